#!/usr/bin/env python3
"""Generates the sample unit roster of a fictional county (安澜县).

The roster is a tree: the county at the root; under it the county-level
leadership teams, townships, county departments, enterprises, schools and
new economic or social organizations; under those, their party branches.
Output is deterministic for a given seed, so the committed files can be
regenerated and compared:

    python3 scripts/make_roster.py            # writes workflows/data/county-roster.{csv,yaml}
    python3 scripts/make_roster.py --seed 7 --out-dir /tmp/roster

Only the standard library is used. Every name and address is made up; contact
addresses use the example.gov.cn domain only.
"""

import argparse
import csv
import io
import os
import random
import sys

COLUMNS = [
    "id", "parent", "name", "category", "leader", "leader_contact", "secretary",
    "leadership_team", "liaison", "liaison_contact", "office", "office_contact",
    "members_in_service", "members_mobile", "members_elderly_infirm", "members_new_economy",
]
MEMBER_TYPES = ["in_service", "mobile", "elderly_infirm", "new_economy"]
COUNTY = "安澜县"
ROOT_ID = "anlan"
MAIL_DOMAIN = "example.gov.cn"

SURNAMES = (
    "王王王李李李张张张刘刘刘陈陈杨杨黄赵赵吴周周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
    "于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏付方白邹孟熊秦邱江尹薛闫段雷侯史陶贺顾毛郝"
    "龚邵万钱严武戴孔汤常牛翟")
GIVEN = (
    "建国 建华 建军 国强 国庆 志强 志刚 志明 海涛 海燕 红梅 红霞 丽娟 丽华 秀英 秀兰 桂英 玉兰 春梅 冬梅 "
    "晓东 晓燕 晓明 伟 磊 勇 军 杰 涛 斌 超 鹏 强 刚 平 辉 敏 静 丽 艳 娟 芳 霞 燕 玲 婷 颖 雪 "
    "文博 文静 子轩 浩然 宇航 俊杰 思远 嘉怡 雨萱 欣怡 明轩 振华 立新 卫东 向阳 保国 永刚 永红 新民 学军 "
    "庆丰 德胜 长青 守仁 怀远 书文 雅琴 慧敏 淑珍 凤霞 金凤 银花 光明 旭东 朝阳 跃进 少华 家豪 泽民 一鸣"
).split()

COUNTY_LEADERSHIP = [
    "中共安澜县委常委会", "安澜县人大常委会党组", "安澜县人民政府党组", "政协安澜县委员会党组",
    "中共安澜县纪委监委领导班子", "安澜县人民法院党组", "安澜县人民检察院党组",
]

TOWNSHIPS = [
    "城关镇", "城郊乡", "南关镇", "北店镇", "东岗镇", "西平乡", "柳林镇", "杨庄乡",
    "李集镇", "王营镇", "张桥乡", "三官庙镇", "黄土岭乡", "石桥镇", "高庄乡",
]
COMMUNITIES = ["东街", "西街", "南关", "北关", "建设路", "人民路", "新华", "文昌"]

# (name, extra branches beyond the 机关 branch)
DEPARTMENTS = [
    ("县委办公室", []), ("县政府办公室", []), ("县委组织部", []), ("县委宣传部", []),
    ("县委统战部", []), ("县委政法委员会", []), ("县委编办", []), ("县直机关工委", []),
    ("县发展和改革委员会", []), ("县教育局", ["离退休"]), ("县科学技术和工业信息化局", []),
    ("县公安局", ["交通警察大队", "城关派出所", "刑事侦查大队", "离退休"]), ("县民政局", []),
    ("县司法局", []), ("县财政局", ["离退休"]), ("县人力资源和社会保障局", []),
    ("县自然资源局", ["离退休"]), ("县住房和城乡建设局", []), ("县交通运输局", ["公路管理所"]),
    ("县水利局", ["离退休"]), ("县农业农村局", ["农业技术推广中心", "离退休"]), ("县商务局", []),
    ("县文化广电和旅游局", []), ("县卫生健康委员会", ["县人民医院", "县中医院", "县疾病预防控制中心"]),
    ("县退役军人事务局", []), ("县应急管理局", []), ("县审计局", []),
    ("县市场监督管理局", ["城关市场监管所"]), ("县统计局", []), ("县医疗保障局", []), ("县信访局", []),
    ("县城市管理局", ["环境卫生管理站"]), ("县林业局", []), ("县机关事务服务中心", []),
    ("县融媒体中心", []), ("县总工会", []), ("共青团安澜县委", []), ("县妇女联合会", []),
    ("县供销合作社", ["离退休"]), ("县税务局", ["离退休"]),
]

ENTERPRISES = [
    ("安澜县城市建设投资集团有限公司", 2, False), ("安澜县交通建设投资有限公司", 1, False),
    ("安澜县自来水有限公司", 1, False), ("安澜农村商业银行股份有限公司", 2, False),
    ("安澜县粮食储备有限公司", 1, False), ("安澜县国有资产运营有限公司", 1, False),
    ("安澜县文化旅游投资有限公司", 1, False), ("安澜县热力有限公司", 1, False),
    ("安澜县公共交通有限公司", 1, False), ("安澜县农业发展投资有限公司", 1, False),
    ("安澜恒通机械制造有限公司", 1, False), ("安澜绿源食品有限公司", 1, False),
    ("安澜金穗面业有限公司", 1, False), ("安澜宏远建材有限公司", 1, False),
    ("安澜博瑞电子科技有限公司", 1, False), ("安澜康泰药业有限公司", 1, False),
    ("安澜天成物流有限公司", 1, True), ("安澜丰华农牧有限公司", 1, False),
    ("安澜鑫盛新材料有限公司", 1, False), ("安澜兴达纺织有限公司", 2, False),
]

# (name, teacher branches, has a retired teachers' branch)
SCHOOLS = [
    ("安澜县第一高级中学", 3, True), ("安澜县第二高级中学", 2, True), ("安澜县第三高级中学", 2, False),
    ("安澜县实验中学", 2, False), ("安澜县第一初级中学", 1, True), ("安澜县第二初级中学", 1, False),
    ("安澜县第三初级中学", 1, False), ("安澜县职业教育中心", 2, False), ("安澜县特殊教育学校", 1, False),
    ("安澜县实验小学", 1, True), ("安澜县第一小学", 1, False), ("安澜县第二小学", 1, False),
    ("安澜县第三小学", 1, False), ("安澜县第四小学", 1, False), ("安澜县第五小学", 1, False),
    ("南关镇第一初级中学", 1, False), ("北店镇第一初级中学", 1, False), ("柳林镇第一初级中学", 1, False),
    ("李集镇中心小学", 1, False), ("王营镇中心小学", 1, False), ("石桥镇中心小学", 1, False),
    ("安澜县第一实验幼儿园", 1, False), ("安澜县第二实验幼儿园", 1, False), ("安澜县机关幼儿园", 1, False),
    ("城关镇中心幼儿园", 1, False),
]

# (name, branch names, members mostly in new forms of employment)
NEW_ORGANIZATIONS = [
    ("安澜县非公有制经济组织综合党委", ["城区商贸企业联合党支部", "工业园区非公企业联合党支部", "个体工商户联合党支部"], False),
    ("安澜县社会组织综合党委", ["行业协会商会联合党支部", "民办非企业单位联合党支部"], False),
    ("安澜县律师行业党委", ["明德律师事务所党支部", "正衡律师事务所党支部"], False),
    ("安澜县快递物流行业党委", ["快递物流行业联合党支部", "城区快递网点联合党支部"], True),
    ("安澜县网约配送行业党委", ["外卖配送站点联合党支部"], True),
    ("安澜县物业服务行业党委", ["城区物业服务企业联合党支部"], False),
    ("安澜县民办教育行业党委", ["民办学校和培训机构联合党支部"], False),
    ("安澜县中介服务行业党委", ["会计师事务所联合党支部"], False),
]

VILLAGE_STEMS = [
    "王庄", "李庄", "刘集", "张湾", "陈楼", "赵寨", "孙营", "周店", "吴岗", "郑桥", "杨屯", "黄洼",
    "马湾", "河口", "柳树", "杏花", "石桥", "黄土坡", "青龙", "白马", "双庙", "枣园", "桃园", "松林",
    "龙泉", "槐树", "前进", "红星", "胜利", "丰收", "东风", "金沟", "南湖", "北岭", "高台", "姚坡",
    "郭庄", "何营", "林寨", "罗店", "梁湾", "谢楼", "宋集", "唐庄", "许岗", "韩屯", "冯寨", "邓楼",
    "曹湾", "彭庄", "肖店", "田集", "董寨", "袁庄", "潘湾", "蒋楼", "蔡岗", "余集", "杜庄", "叶湾",
]
VILLAGE_PREFIXES = ["", "", "", "大", "小", "前", "后", "东", "西", "南", "北", "新"]


class People:
    """Hands out distinct made-up names."""

    def __init__(self, rng):
        self.rng = rng
        self.used = set()

    def name(self):
        while True:
            candidate = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate


class Roster:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.people = People(self.rng)
        # The roles added later draw from their own stream, so the names of
        # leaders and secretaries stay what they were for the same seed.
        self.staff = People(random.Random(seed * 7919 + 1))
        self.rows = []
        self.by_id = {}
        self.children = {}

    def add(self, unit_id, parent, name, category, members=None, same_secretary=False):
        leader = self.people.name()
        secretary = leader if same_secretary else self.people.name()
        row = {
            "id": unit_id,
            "parent": parent or "",
            "name": name,
            "category": category,
            "leader": leader,
            "leader_contact": f"{unit_id}@{MAIL_DOMAIN}",
            "secretary": secretary,
            # 领导班子: the leader and other members; a branch committee is smaller.
            "leadership_team": ";".join(
                [leader] + [self.staff.name() for _ in range(1 if same_secretary else 3)]),
            "liaison": self.staff.name(),
            "liaison_contact": f"{unit_id}.liaison@{MAIL_DOMAIN}",
            "office": self.staff.name(),
            "office_contact": f"{unit_id}.office@{MAIL_DOMAIN}",
        }
        for member_type in MEMBER_TYPES:
            row[f"members_{member_type}"] = (members or {}).get(member_type, 0)
        self.rows.append(row)
        self.by_id[unit_id] = row
        self.children.setdefault(unit_id, [])
        if parent:
            self.children[parent].append(unit_id)
        return row

    def branch(self, parent, index, name, in_service, mobile=(0, 0), elderly=(0, 0), new_economy=(0, 0)):
        r = self.rng.randint
        members = {
            "in_service": r(*in_service),
            "mobile": r(*mobile),
            "elderly_infirm": r(*elderly),
            "new_economy": r(*new_economy),
        }
        return self.add(f"{parent}-b{index:02d}", parent, name, "party_branch", members, same_secretary=True)

    def roll_up(self, unit_id):
        """A unit with branches counts the members of its whole subtree."""
        kids = self.children[unit_id]
        if not kids:
            return
        for kid in kids:
            self.roll_up(kid)
        for member_type in MEMBER_TYPES:
            key = f"members_{member_type}"
            self.by_id[unit_id][key] = sum(self.by_id[k][key] for k in kids)


def village_names(rng, count, taken):
    names = []
    while len(names) < count:
        name = rng.choice(VILLAGE_PREFIXES) + rng.choice(VILLAGE_STEMS)
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def build(seed):
    roster = Roster(seed)
    rng = roster.rng
    roster.add(ROOT_ID, None, COUNTY, "county")

    for i, name in enumerate(COUNTY_LEADERSHIP, 1):
        roster.add(f"ld{i:02d}", ROOT_ID, name, "county_leadership", {"in_service": rng.randint(7, 13)})

    taken = set()
    for i, township in enumerate(TOWNSHIPS, 1):
        unit_id = f"tw{i:02d}"
        roster.add(unit_id, ROOT_ID, township, "township")
        roster.branch(unit_id, 1, f"{township}机关党支部", (25, 60), elderly=(0, 2))
        index = 2
        if township == "城关镇":
            for community in rng.sample(COMMUNITIES, 5):
                roster.branch(unit_id, index, f"{township}{community}社区党支部", (20, 70),
                              mobile=(0, 4), elderly=(4, 15), new_economy=(1, 8))
                index += 1
            villages = village_names(rng, 3, taken)
        else:
            villages = village_names(rng, rng.randint(5, 8), taken)
        for village in villages:
            roster.branch(unit_id, index, f"{township}{village}村党支部", (12, 45),
                          mobile=(0, 10), elderly=(2, 12), new_economy=(0, 2))
            index += 1

    for i, (name, extras) in enumerate(DEPARTMENTS, 1):
        unit_id = f"dp{i:02d}"
        roster.add(unit_id, ROOT_ID, name, "department")
        roster.branch(unit_id, 1, f"{name}机关党支部", (8, 45))
        for j, extra in enumerate(extras, 2):
            if extra == "离退休":
                roster.branch(unit_id, j, f"{name}离退休干部党支部", (0, 3), elderly=(10, 40))
            else:
                roster.branch(unit_id, j, f"{name}{extra}党支部", (15, 80), mobile=(0, 2))

    for i, (name, count, logistics) in enumerate(ENTERPRISES, 1):
        unit_id = f"en{i:02d}"
        roster.add(unit_id, ROOT_ID, name, "enterprise")
        for j in range(1, count + 1):
            label = "党支部" if count == 1 else f"第{'一二三'[j - 1]}党支部"
            roster.branch(unit_id, j, f"{name}{label}", (10, 60), mobile=(0, 3),
                          new_economy=(5, 15) if logistics else (0, 0))

    for i, (name, teachers, retired) in enumerate(SCHOOLS, 1):
        unit_id = f"sc{i:02d}"
        roster.add(unit_id, ROOT_ID, name, "school")
        for j in range(1, teachers + 1):
            label = "党支部" if teachers == 1 else f"教师第{'一二三'[j - 1]}党支部"
            roster.branch(unit_id, j, f"{name}{label}", (12, 70))
        if retired:
            roster.branch(unit_id, teachers + 1, f"{name}退休教师党支部", (0, 2), elderly=(8, 30))

    for i, (name, branches, new_economy) in enumerate(NEW_ORGANIZATIONS, 1):
        unit_id = f"no{i:02d}"
        roster.add(unit_id, ROOT_ID, name, "new_organization")
        for j, branch in enumerate(branches, 1):
            roster.branch(unit_id, j, f"{COUNTY}{branch}" if not branch.startswith(COUNTY) else branch,
                          (3, 20), mobile=(0, 5), new_economy=(6, 25) if new_economy else (0, 2))

    roster.roll_up(ROOT_ID)
    return roster


def to_csv(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def to_yaml(rows, seed):
    out = [
        f"# Sample unit roster of a fictional county. Generated by scripts/make_roster.py --seed {seed};",
        "# do not edit by hand. Same data as county-roster.csv; see README.md for the fields.",
        "kind: Roster",
        "id: anlan-county",
        "title: {zh: 安澜县单位名册（示例数据）, en: Anlan County unit roster (sample data)}",
        "units:",
    ]
    for row in rows:
        out.append(f"  - id: {row['id']}")
        if row["parent"]:
            out.append(f"    parent: {row['parent']}")
        out.append(f"    name: {row['name']}")
        out.append(f"    category: {row['category']}")
        out.append(f"    leader: {{name: {row['leader']}, contact: {row['leader_contact']}}}")
        out.append(f"    secretary: {row['secretary']}")
        team = ", ".join(row["leadership_team"].split(";"))
        out.append(f"    leadership_team: [{team}]")
        out.append(f"    liaison: {{name: {row['liaison']}, contact: {row['liaison_contact']}}}")
        out.append(f"    office: {{name: {row['office']}, contact: {row['office_contact']}}}")
        counts = ", ".join(f"{t}: {row[f'members_{t}']}" for t in MEMBER_TYPES)
        out.append(f"    members: {{{counts}}}")
    return "\n".join(out) + "\n"


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--out-dir", default=os.path.join(here, "..", "workflows", "data"))
    args = parser.parse_args(argv)

    roster = build(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "county-roster.csv"), "w", encoding="utf-8", newline="") as f:
        f.write(to_csv(roster.rows))
    with open(os.path.join(args.out_dir, "county-roster.yaml"), "w", encoding="utf-8") as f:
        f.write(to_yaml(roster.rows, args.seed))

    by_category = {}
    for row in roster.rows:
        by_category[row["category"]] = by_category.get(row["category"], 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in by_category.items())
    print(f"make_roster: {len(roster.rows)} units ({summary}) -> {os.path.normpath(args.out_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
