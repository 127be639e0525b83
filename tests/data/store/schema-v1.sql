-- A Cascade database at schema version 1, frozen: the tables of migration 1
-- (kSchemaV1 in core/src/store/store.cpp, copied verbatim) and the rows of a
-- small drill campaign over tests/data/engine/roster.yaml (tw01 handed in,
-- was returned, handed in again, was approved and added problem P1; tw02 was
-- reminded, its reminder was delivered, and it handed in; commands carry
-- idempotency keys). Version 1 had no problems table: P1 lives only in the log.
--
-- The rows were written once by the runtime and exported as INSERTs. Do not
-- regenerate this file with newer code: it stands for databases that already
-- exist. A dump does not carry the file header, so whoever loads it sets
--   PRAGMA user_version = 1; PRAGMA application_id = 1129530180; -- 0x43534344, "CSCD"
-- (tests/reliability/migration_test.cpp does).
BEGIN;
CREATE TABLE definitions (
    key TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    version TEXT NOT NULL,
    main_file TEXT NOT NULL,
    bundle TEXT NOT NULL
);
CREATE TABLE units (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    parent TEXT NOT NULL,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    roles TEXT NOT NULL,
    members TEXT NOT NULL
);
CREATE TABLE campaigns (
    id TEXT PRIMARY KEY,
    definition_key TEXT NOT NULL REFERENCES definitions(key),
    workflow_id TEXT NOT NULL,
    scope_root TEXT NOT NULL,
    utc_offset_minutes INTEGER NOT NULL,
    started_at INTEGER NOT NULL
);
CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    unit TEXT NOT NULL,
    definition_key TEXT NOT NULL,
    parent_instance TEXT NOT NULL,
    parent_step TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    instance TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    type TEXT NOT NULL,
    step TEXT NOT NULL,
    data TEXT NOT NULL,
    previous_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    UNIQUE (instance, seq)
);
CREATE TABLE steps (
    instance TEXT NOT NULL,
    step TEXT NOT NULL,
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    activation INTEGER NOT NULL,
    visits INTEGER NOT NULL,
    activated_on TEXT NOT NULL,
    due TEXT NOT NULL,
    overdue INTEGER NOT NULL,
    escalated INTEGER NOT NULL,
    returns INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    PRIMARY KEY (instance, step)
) WITHOUT ROWID;
CREATE TABLE timers (
    instance TEXT NOT NULL,
    step TEXT NOT NULL,
    activation INTEGER NOT NULL,
    kind TEXT NOT NULL,
    idx INTEGER NOT NULL,
    fire_at INTEGER NOT NULL,
    PRIMARY KEY (instance, step, activation, kind, idx)
) WITHOUT ROWID;
CREATE INDEX timers_by_time ON timers (fire_at);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    instance TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE TABLE commands (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    result TEXT NOT NULL,
    at INTEGER NOT NULL
);
-- definitions
INSERT INTO definitions("key",workflow_id,version,main_file,bundle) VALUES('d7e05189a6ee09102dba818b305af1c01ddd7f90af377a276ce37efb30caf48d','drill','1','drill.yaml','{"drill.yaml":"# A workflow that exercises every engine rule on a township: a reviewed task\n# with a gate, reminders and escalation; a decision with a bounded rework\n# loop; a parallel with a join; an action; problem counts; an end.\napiVersion: cascade/v1\nkind: Workflow\nid: drill\nversion: 1\ntitle: {zh: 演练流程, en: Drill}\ncalendar: {start: 2023-09-01, end: 2024-01-31}\n\nscope:\n  categories:\n    township: {zh: 乡镇, en: Township}\n\nroles:\n  leader: {title: {zh: 第一责任人, en: First responsible person}}\n  secretary: {title: {zh: 书记, en: Secretary}}\n  office: {title: {zh: 办公室, en: Office}}\n\nstages:\n  study: {title: {zh: 理论学习, en: Study}}\n  rectify: {title: {zh: 整改, en: Rectify}}\n\nplugins:\n  log:\n    plugin: log\n  auto:\n    plugin: test-action\n\non:\n  overdue: [{notify: log}]\n\nsteps:\n  reading:\n    kind: task\n    stage: study\n    title: {zh: 读书班, en: Reading class}\n    assignee: leader\n    form:\n      sessions: {type: integer, title: {zh: 期数, en: Sessions}, minimum: 1}\n      days: {type: integer, title: {zh: 天数, en: Days}, minimum: 1}\n      evidence: {type: attachment, title: {zh: 佐证, en: Evidence}, min_items: 1, accept: [pdf, jpg]}\n    gate: form.sessions >= 2 and form.days >= 7\n    review:\n      by: parent.office\n      max_rounds: 2\n    due: 2023-09-15\n    remind: [3 working days, 1 working day]\n    escalate: {after: 2 working days, to: parent.leader}\n    on:\n      remind: [{notify: log}]\n      escalated: [{notify: log, to: parent.leader}]\n    next: verify\n\n  verify:\n    kind: task\n    stage: rectify\n    title: {zh: 群众评议, en: Public assessment}\n    assignee: secretary\n    form:\n      satisfied: {type: boolean, title: {zh: 满意, en: Satisfied}}\n    next:\n      - {to: reading, when: not form.satisfied, max_rounds: 1}\n      - {to: split}\n\n  split:\n    kind: parallel\n    title: {zh: 并行, en: Split}\n    next: [fix, export]\n\n  fix:\n    kind: task\n    stage: rectify\n    title: {zh: 整改销号, en: Fix and sign off}\n    assignee: leader\n    form:\n      note: {type: text, title: {zh: 说明, en: Note}, required: false}\n    gate: problems.open == 0\n    due: 5 working days\n    next: joined\n\n  export:\n    kind: action\n    stage: rectify\n    title: {zh: 导出台账, en: Export the ledger}\n    plugin: auto\n    action: complete\n    retry: {max_attempts: 3, backoff: 1s}\n    next: joined\n\n  joined:\n    kind: join\n    title: {zh: 汇合, en: Joined}\n    next: done\n\n  done:\n    kind: end\n    title: {zh: 完成, en: Done}\n"}');
-- units
INSERT INTO units(id,position,parent,name,category,roles,members) VALUES('county',0,'','测试县','county','{"admin":[{"name":"县管理员","contact":""}],"leader":[{"name":"县委书记","contact":"county@example.gov.cn"}],"office":[{"name":"县主题教育办","contact":"office@example.gov.cn"}]}','{}');
INSERT INTO units(id,position,parent,name,category,roles,members) VALUES('tw01',1,'county','东关镇','township','{"leader":[{"name":"张镇长","contact":"tw01@example.gov.cn"}],"office":[{"name":"王干事","contact":""}],"secretary":[{"name":"李书记","contact":""}]}','{"in_service":40,"mobile":3}');
INSERT INTO units(id,position,parent,name,category,roles,members) VALUES('tw02',2,'county','西城镇','township','{"leader":[{"name":"赵镇长","contact":"tw02@example.gov.cn"}],"office":[{"name":"孙干事","contact":""}],"secretary":[{"name":"钱书记","contact":""}]}','{"in_service":30,"mobile":0}');
INSERT INTO units(id,position,parent,name,category,roles,members) VALUES('tw01-b01',3,'tw01','东关镇东街社区党支部','party_branch','{"leader":[{"name":"周支书","contact":""}],"secretary":[{"name":"周支书","contact":""}]}','{}');
INSERT INTO units(id,position,parent,name,category,roles,members) VALUES('tw01-b02',4,'tw01','东关镇袁庄村党支部','party_branch','{"leader":[{"name":"吴支书","contact":""}],"secretary":[{"name":"吴支书","contact":""}]}','{}');
INSERT INTO units(id,position,parent,name,category,roles,members) VALUES('tw02-b01',5,'tw02','西城镇机关党支部','party_branch','{"leader":[{"name":"郑支书","contact":""}],"secretary":[{"name":"郑支书","contact":""}]}','{}');
-- campaigns
INSERT INTO campaigns(id,definition_key,workflow_id,scope_root,utc_offset_minutes,started_at) VALUES('drill','d7e05189a6ee09102dba818b305af1c01ddd7f90af377a276ce37efb30caf48d','drill','county',480,1693530000000);
-- instances
INSERT INTO instances(id,campaign,unit,definition_key,parent_instance,parent_step,status,version,updated_at) VALUES('drill/tw01','drill','tw01','d7e05189a6ee09102dba818b305af1c01ddd7f90af377a276ce37efb30caf48d','','','running',8,1694052000000);
INSERT INTO instances(id,campaign,unit,definition_key,parent_instance,parent_step,status,version,updated_at) VALUES('drill/tw02','drill','tw02','d7e05189a6ee09102dba818b305af1c01ddd7f90af377a276ce37efb30caf48d','','','running',4,1694570400000);
-- events
INSERT INTO events(position,instance,seq,at,actor,type,step,data,previous_hash,hash) VALUES(1,'drill/tw01',1,1693530000000,'system','instance_started','','{"unit":"tw01","inputs":{},"vars":{}}',X'0000000000000000000000000000000000000000000000000000000000000000',X'd921aa2cb7a4ef0ee4b742160ccb37a930433f0b2d94198bf965cf70ee3d2dbf');
INSERT INTO events(position,instance,seq,at,actor,type,step,data,previous_hash,hash) VALUES(2,'drill/tw01',2,1693530000000,'system','step_activated','reading','{"from":"","activated_on":"2023-09-01","due":"2023-09-15"}',X'd921aa2cb7a4ef0ee4b742160ccb37a930433f0b2d94198bf965cf70ee3d2dbf',X'15aa1dd5c50c10ce856833169cf9748c3cb7238bc15d2dce8c153f9002b349af');
INSERT INTO events(position,instance,seq,at,actor,type,step,data,previous_hash,hash) VALUES(3,'drill/tw02',1,1693530000000,'system','instance_started','','{"unit":"tw02","inputs":{},"vars":{}}',X'15aa1dd5c50c10ce856833169cf9748c3cb7238bc15d2dce8c153f9002b349af',X'eecb55dcd061959c7d2337f883798ba8bc0091152202144d276b3b68b6eb16c7');
INSERT INTO events(position,instance,seq,at,actor,type,step,data,previous_hash,hash) VALUES(4,'drill/tw02',2,1693530000000,'system','step_activated','reading','{"from":"","activated_on":"2023-09-01","due":"2023-09-15"}',X'eecb55dcd061959c7d2337f883798ba8bc0091152202144d276b3b68b6eb16c7',X'7592fca33c88cd10608528177446ed0225cdab05d288a27124f6c79f06b32776');
INSERT INTO events(position,instance,seq,at,actor,type,step,data,previous_hash,hash) VALUES(5,'drill/tw01',3,1693792800000,'leader@tw01','step_submitted','reading','{"form":{"sessions":2,"days":7,"evidence":["plan.pdf"]},"round":1}',X'7592fca33c88cd10608528177446ed0225cdab05d288a27124f6c79f06b32776',X'7b8dc9c0cc35302c17a1d2896002c1477f247b85f6add21e5ee5837a3913feb2');
INSERT INTO events(position,instance,seq,at,actor,type,step,data,previous_hash,hash) VALUES(6,'drill/tw01',4,1693879200000,'office@county','step_returned','reading','{"reason":"佐证材料不完整","round":1}',X'7b8dc9c0cc35302c17a1d2896002c1477f247b85f6add21e5ee5837a3913feb2',X'ef37c069dd13a8cb4e4f7ec79e9fde764e664bece09b2c849e8ee2b715a64155');
INSERT INTO events(position,instance,seq,at,actor,type,step,data,previous_hash,hash) VALUES(7,'drill/tw01',5,1693965600000,'leader@tw01','step_submitted','reading','{"form":{"sessions":2,"days":7,"evidence":["plan.pdf"]},"round":2}',X'ef37c069dd13a8cb4e4f7ec79e9fde764e664bece09b2c849e8ee2b715a64155',X'3dbc0f9018846130449cf8b0fc31da3158ffcfa138bab7361d3511a157b5d813');
INSERT INTO events(position,instance,seq,at,actor,type,step,data,previous_hash,hash) VALUES(8,'drill/tw01',6,1694052000000,'office@county','step_completed','reading','{"form":{"sessions":2,"days":7,"evidence":["plan.pdf"]},"approved":true,"round":2}',X'3dbc0f9018846130449cf8b0fc31da3158ffcfa138bab7361d3511a157b5d813',X'95eea30799b0f77ece222c36cc8b0cb5eba4c234f7c9d8833a4a820c5271cb89');
INSERT INTO events(position,instance,seq,at,actor,type,step,data,previous_hash,hash) VALUES(9,'drill/tw01',7,1694052000000,'office@county','step_activated','verify','{"from":"reading","activated_on":"2023-09-07"}',X'95eea30799b0f77ece222c36cc8b0cb5eba4c234f7c9d8833a4a820c5271cb89',X'd20114c33afa5d94050b42405612c0b16c6b8b571ad5ddbfd54c1f237b0d4f7c');
INSERT INTO events(position,instance,seq,at,actor,type,step,data,previous_hash,hash) VALUES(10,'drill/tw01',8,1694052000000,'leader@tw01','problem_added','','{"id":"P1","title":"台账不全","owner":"张镇长","immediate":false,"on":"2023-09-07","due":"2023-09-30"}',X'd20114c33afa5d94050b42405612c0b16c6b8b571ad5ddbfd54c1f237b0d4f7c',X'46758677072cd0a6638cdd20f70646c33e18422275d7402086d901acc98af29c');
INSERT INTO events(position,instance,seq,at,actor,type,step,data,previous_hash,hash) VALUES(11,'drill/tw02',3,1694480400000,'system','reminder_due','reading','{"index":0,"due":"2023-09-15"}',X'46758677072cd0a6638cdd20f70646c33e18422275d7402086d901acc98af29c',X'a648d28149000c5f27ee48f3914912382caf4d2d325e86b6b9f011000230f1ee');
INSERT INTO events(position,instance,seq,at,actor,type,step,data,previous_hash,hash) VALUES(12,'drill/tw02',4,1694570400000,'leader@tw02','step_submitted','reading','{"form":{"sessions":2,"days":7,"evidence":["plan.pdf"]},"round":1}',X'a648d28149000c5f27ee48f3914912382caf4d2d325e86b6b9f011000230f1ee',X'1e4cb6e5049acefe9f3f637d797660514a9fd495a07c4b329558ce32bd22216b');
-- steps
INSERT INTO steps(instance,step,stage,status,activation,visits,activated_on,due,overdue,escalated,returns,changed_at) VALUES('drill/tw01','reading','study','completed',1,1,'2023-09-01','2023-09-15',0,0,1,1694052000000);
INSERT INTO steps(instance,step,stage,status,activation,visits,activated_on,due,overdue,escalated,returns,changed_at) VALUES('drill/tw01','verify','rectify','active',2,1,'2023-09-07','',0,0,0,1694052000000);
INSERT INTO steps(instance,step,stage,status,activation,visits,activated_on,due,overdue,escalated,returns,changed_at) VALUES('drill/tw02','reading','study','submitted',1,1,'2023-09-01','2023-09-15',0,0,0,1694570400000);
-- timers
INSERT INTO timers(instance,step,activation,kind,idx,fire_at) VALUES('drill/tw02','reading',1,'overdue',0,1694793600000);
INSERT INTO timers(instance,step,activation,kind,idx,fire_at) VALUES('drill/tw02','reading',1,'escalate',0,1695052800000);
-- outbox
INSERT INTO outbox(id,"key",instance,kind,target,payload,status,attempts,next_attempt_at,last_error,created_at) VALUES(1,'drill/tw02/3/notify/0','drill/tw02','notify','log','{"event":"remind","workflow":"drill","instance":"drill/tw02","unit":"tw02","unit_name":"西城镇","on":"2023-09-12","step":"reading","step_title":{"zh":"读书班","en":"Reading class"},"due":"2023-09-15","to":{"role":"leader","unit":"tw02","people":[{"name":"赵镇长","contact":"tw02@example.gov.cn"}]}}','delivered',1,1694480400000,'',1694480400000);
-- commands
INSERT INTO commands("key",request_hash,result,at) VALUES('tw01-problem-1','4e8f95ca6254a4806b703f819a91f1e57b6500609dd02d44e2a4181f09b8ef18','{"version":8,"events":["problem_added"]}',1694052000000);
INSERT INTO commands("key",request_hash,result,at) VALUES('tw01-reading-1','266c24abe517e9cc7565c55105f551a9c516ace3893f87c92e1d963d784442f8','{"version":3,"events":["step_submitted"]}',1693792800000);
INSERT INTO commands("key",request_hash,result,at) VALUES('tw01-reading-2','266c24abe517e9cc7565c55105f551a9c516ace3893f87c92e1d963d784442f8','{"version":5,"events":["step_submitted"]}',1693965600000);
INSERT INTO commands("key",request_hash,result,at) VALUES('tw01-review-1','1882809dfe3c99a11d43b7e382a47a7dc66ac40d019e08066e66456524021456','{"version":4,"events":["step_returned"]}',1693879200000);
INSERT INTO commands("key",request_hash,result,at) VALUES('tw01-review-2','9874ef5de42354cdd3aea6519670683f25fbbe7bc8977db26e349a98643262e8','{"version":7,"events":["step_completed","step_activated"]}',1694052000000);
INSERT INTO commands("key",request_hash,result,at) VALUES('tw02-reading-1','6e8a66dc83bda5160b7e0670b8a21424385b19997fca22c6f4e8b059396924e1','{"version":4,"events":["step_submitted"]}',1694570400000);
COMMIT;
