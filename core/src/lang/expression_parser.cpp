// Lexer and parser of the workflow expression language.
//
// Grammar (EBNF; a `when`, `gate` or `applies_if` value is one `expression`):
//
//   expression     = or_expr ;
//   or_expr        = and_expr { "or" and_expr } ;
//   and_expr       = not_expr { "and" not_expr } ;
//   not_expr       = "not" not_expr | comparison ;
//   comparison     = additive [ compare_op additive ] ;        (* no chaining: a < b < c is an error *)
//   compare_op     = "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in" ;
//   additive       = multiplicative { ( "+" | "-" ) multiplicative } ;
//   multiplicative = unary { ( "*" | "/" | "%" ) unary } ;
//   unary          = "-" unary | primary ;
//   primary        = literal | path | call | list | "(" expression ")" ;
//   call           = identifier "(" [ expression { "," expression } ] ")" ;
//   list           = "[" [ expression { "," expression } [ "," ] ] "]" ;
//   path           = identifier { "." word } ;                 (* form.reading_days *)
//   literal        = integer | decimal | percentage | string | "true" | "false" | "null" ;
//
//   identifier     = ( letter | "_" ) { letter | digit | "_" } - keyword ;
//   word           = identifier | keyword ;                    (* after '.', keywords are field names *)
//   keyword        = "and" | "or" | "not" | "in" | "true" | "false" | "null" ;
//   integer        = digit { digit } ;                         (* 64-bit signed *)
//   decimal        = digit { digit } "." digit { digit } ;
//   percentage     = ( integer | decimal ) "%" ;               (* 80% is the number 0.8 *)
//   string         = "'" { char | escape } "'" | '"' { char | escape } '"' ;
//   escape         = "\\" ( "\\" | "'" | '"' | "n" ) ;
//
// Notes:
// - A '%' directly after a number makes a percentage unless a value follows
//   it immediately ("80%" and "80% > x" are percentages; "7%2" and "7 % 2" are
//   the remainder operator).
// - "a not in b" is read as "not (a in b)".
// - "-" directly before a number literal (other than the integer 0) is folded
//   into it, so the smallest integer -9223372036854775808 can be written.
// - Whitespace is space, tab, CR and LF. String contents are UTF-8.
// - Nesting (parentheses, lists, call arguments, prefix operators, operands
//   of binary operators) deeper than ExpressionLimits::max_depth is an error,
//   and so is a syntax tree deeper than that: a chain of 65 'or's is as deep
//   as 65 nested parentheses. This bounds recursion in every later pass.
// - Parsing is a single pass over a token list: linear in the input length.
//
// Mistakes borrowed from other languages ('&&', '||', '!', '=', '<>', '=>',
// '=<') are reported with a hint and parsing continues as if the right
// operator had been written, so one pass finds all of them.
#include "cascade/lang/expression.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace cascade::lang {

namespace {

using model::BinaryNode;
using model::BinaryOp;
using model::CallNode;
using model::Expression;
using model::ExpressionPtr;
using model::ListNode;
using model::LiteralNode;
using model::PathNode;
using model::UnaryNode;
using model::UnaryOp;
using model::Value;

enum class TokenKind {
    end,
    identifier,
    integer,
    number,
    string,
    keyword_and,
    keyword_or,
    keyword_not,
    keyword_in,
    keyword_true,
    keyword_false,
    keyword_null,
    left_paren,
    right_paren,
    left_bracket,
    right_bracket,
    comma,
    dot,
    equal,
    not_equal,
    less,
    less_equal,
    greater,
    greater_equal,
    plus,
    minus,
    star,
    slash,
    percent
};

struct Token {
    TokenKind kind = TokenKind::end;
    std::size_t offset = 0;
    std::size_t length = 0;
    std::string text;             // a word, or the decoded contents of a string
    std::uint64_t magnitude = 0;  // integer literals, before any sign
    double number = 0;            // decimal and percentage literals
    bool out_of_range = false;    // a literal too large to represent
};

// Recoverable mistakes ('&&', '=' ...) reported before parsing gives up.
constexpr std::size_t kMaxErrors = 20;

constexpr std::uint64_t kMaxMagnitude = std::uint64_t{1} << 63;  // |INT64_MIN|

bool IsDigit(char c) {
    return c >= '0' && c <= '9';
}
bool IsLetter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsIdentifierStart(char c) {
    return IsLetter(c) || c == '_';
}
bool IsIdentifierChar(char c) {
    return IsIdentifierStart(c) || IsDigit(c);
}
bool IsSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Decodes one UTF-8 sequence at `pos`; returns its length, or 0 if it is not
// well-formed (overlong forms, surrogates and values above U+10FFFF included).
std::size_t DecodeUtf8(std::string_view text, std::size_t pos, char32_t& code_point) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned lead = byte(pos);
    std::size_t length = 0;
    char32_t value = 0;
    char32_t minimum = 0;
    if (lead < 0x80) {
        code_point = lead;
        return 1;
    }
    if ((lead & 0xE0U) == 0xC0U) {
        length = 2;
        value = lead & 0x1FU;
        minimum = 0x80;
    } else if ((lead & 0xF0U) == 0xE0U) {
        length = 3;
        value = lead & 0x0FU;
        minimum = 0x800;
    } else if ((lead & 0xF8U) == 0xF0U) {
        length = 4;
        value = lead & 0x07U;
        minimum = 0x10000;
    } else {
        return 0;
    }
    if (pos + length > text.size()) {
        return 0;
    }
    for (std::size_t i = 1; i < length; ++i) {
        const unsigned continuation = byte(pos + i);
        if ((continuation & 0xC0U) != 0x80U) {
            return 0;
        }
        value = (value << 6U) | (continuation & 0x3FU);
    }
    if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
        return 0;
    }
    code_point = value;
    return length;
}

// Characters a Chinese input method (or a word processor) produces in place
// of the ASCII one the language expects.
struct LookAlike {
    char32_t code_point;
    std::string_view ascii;
};

constexpr std::array<LookAlike, 27> kLookAlikes{{
    {0xFF08, "("},  {0xFF09, ")"},  {0xFF3B, "["},  {0xFF3D, "]"}, {0xFF0C, ","}, {0x3001, ","},  {0xFF0E, "."},
    {0x3002, "."},  {0xFF1D, "="},  {0xFF1C, "<"},  {0xFF1E, ">"}, {0xFF01, "!"}, {0xFF0B, "+"},  {0xFF0D, "-"},
    {0xFF0A, "*"},  {0xFF0F, "/"},  {0xFF05, "%"},  {0x2018, "'"}, {0x2019, "'"}, {0x201C, "\""}, {0x201D, "\""},
    {0x2264, "<="}, {0x2265, ">="}, {0x2260, "!="}, {0x00D7, "*"}, {0x3000, " "}, {0x00A0, " "},
}};

class Lexer {
public:
    Lexer(std::string_view text, std::vector<ExpressionError>& errors) : text_(text), errors_(errors) {}

    // Splits the whole text into tokens, ending with an `end` token. Returns
    // false after a problem that makes the rest of the text unreadable.
    bool Run(std::vector<Token>& tokens) {
        while (true) {
            while (pos_ < text_.size() && IsSpace(text_[pos_])) {
                ++pos_;
            }
            Token token;
            token.offset = pos_;
            if (pos_ >= text_.size()) {
                tokens.push_back(std::move(token));
                return true;
            }
            if (!Next(token)) {
                return false;
            }
            token.length = pos_ - token.offset;
            tokens.push_back(std::move(token));
        }
    }

private:
    char At(std::size_t pos) const { return pos < text_.size() ? text_[pos] : '\0'; }

    void Error(std::size_t offset, std::string code, std::string message, std::string hint = {}) {
        errors_.push_back({offset, std::move(code), std::move(message), std::move(hint)});
    }

    bool Next(Token& token) {
        const char c = text_[pos_];
        if (IsDigit(c)) {
            return LexNumber(token);
        }
        if (IsIdentifierStart(c)) {
            LexWord(token);
            return true;
        }
        if (c == '\'' || c == '"') {
            return LexString(token);
        }
        return LexOperator(token);
    }

    void LexWord(Token& token) {
        const std::size_t start = pos_;
        while (pos_ < text_.size() && IsIdentifierChar(text_[pos_])) {
            ++pos_;
        }
        token.text = std::string(text_.substr(start, pos_ - start));
        static constexpr std::array<std::pair<std::string_view, TokenKind>, 7> kKeywords{{
            {"and", TokenKind::keyword_and},
            {"or", TokenKind::keyword_or},
            {"not", TokenKind::keyword_not},
            {"in", TokenKind::keyword_in},
            {"true", TokenKind::keyword_true},
            {"false", TokenKind::keyword_false},
            {"null", TokenKind::keyword_null},
        }};
        token.kind = TokenKind::identifier;
        for (const auto& [word, kind] : kKeywords) {
            if (token.text == word) {
                token.kind = kind;
            }
        }
    }

    // Whether `c`, right after a '%', starts a value (so the '%' is the
    // remainder operator rather than a percent sign).
    static bool StartsValue(char c) {
        return IsIdentifierChar(c) || c == '(' || c == '[' || c == '\'' || c == '"' || c == '.';
    }

    bool LexNumber(Token& token) {
        const std::size_t start = pos_;
        while (IsDigit(At(pos_))) {
            ++pos_;
        }
        bool decimal = false;
        if (At(pos_) == '.' && IsDigit(At(pos_ + 1))) {
            decimal = true;
            ++pos_;
            while (IsDigit(At(pos_))) {
                ++pos_;
            }
        }
        if (IsIdentifierChar(At(pos_))) {
            while (IsIdentifierChar(At(pos_)) || At(pos_) == '.') {
                ++pos_;
            }
            Error(start, "bad-literal", "'" + std::string(text_.substr(start, pos_ - start)) + "' is not a number",
                  "write numbers like 7, 2.5 or 80%, and durations like duration('7 days')");
            return false;
        }
        const std::string_view digits = text_.substr(start, pos_ - start);
        const bool percent = At(pos_) == '%' && !StartsValue(At(pos_ + 1));
        if (percent) {
            ++pos_;
        }
        if (decimal || percent) {
            token.kind = TokenKind::number;
            // "80%" is read as "80e-2", so the result is the double nearest to the written value.
            const std::string scaled = std::string(digits) + (percent ? "e-2" : "");
            const auto result = std::from_chars(scaled.data(), scaled.data() + scaled.size(), token.number);
            token.out_of_range = result.ec != std::errc() || result.ptr != scaled.data() + scaled.size();
            return true;
        }
        token.kind = TokenKind::integer;
        for (const char digit : digits) {
            const auto value = static_cast<std::uint64_t>(digit - '0');
            if (token.magnitude > (std::numeric_limits<std::uint64_t>::max() - value) / 10) {
                token.out_of_range = true;
                break;
            }
            token.magnitude = token.magnitude * 10 + value;
        }
        return true;
    }

    bool LexString(Token& token) {
        const char quote = text_[pos_];
        const std::size_t start = pos_++;
        token.kind = TokenKind::string;
        while (true) {
            if (pos_ >= text_.size()) {
                Error(start, "syntax", "unterminated string",
                      std::string("add a closing ") + quote + " at the end of the text");
                return false;
            }
            const char c = text_[pos_];
            if (c == quote) {
                ++pos_;
                return true;
            }
            if (c == '\\') {
                const char escaped = At(pos_ + 1);
                switch (escaped) {
                case '\\':
                case '\'':
                case '"':
                    token.text += escaped;
                    break;
                case 'n':
                    token.text += '\n';
                    break;
                default:
                    Error(pos_, "bad-literal",
                          escaped > ' ' && escaped < 0x7F ? std::string("unknown escape '\\") + escaped + "' in string"
                                                          : std::string("unknown escape in string"),
                          "the escapes are \\\\, \\', \\\" and \\n; write \\\\ for a backslash");
                    return false;
                }
                pos_ += 2;
                continue;
            }
            char32_t code_point = 0;
            const std::size_t length = DecodeUtf8(text_, pos_, code_point);
            if (length == 0) {
                Error(pos_, "bad-literal", "string is not valid UTF-8", "save the workflow file as UTF-8");
                return false;
            }
            token.text.append(text_.substr(pos_, length));
            pos_ += length;
        }
    }

    // One- and two-character operators and punctuation, plus the spellings
    // other languages use for them (reported, then read as intended).
    bool LexOperator(Token& token) {
        const char c = text_[pos_];
        const char next = At(pos_ + 1);
        const auto take = [&](TokenKind kind, std::size_t length) {
            token.kind = kind;
            pos_ += length;
            return true;
        };
        const auto substitute = [&](TokenKind kind, std::size_t length, std::string_view use) {
            if (errors_.size() >= kMaxErrors) {
                return false;  // stop after the last one: a page of the same hint helps nobody
            }
            Error(pos_, "syntax", "'" + std::string(text_.substr(pos_, length)) + "' is not an operator",
                  "use '" + std::string(use) + "'");
            return take(kind, length);
        };
        switch (c) {
        case '(':
            return take(TokenKind::left_paren, 1);
        case ')':
            return take(TokenKind::right_paren, 1);
        case '[':
            return take(TokenKind::left_bracket, 1);
        case ']':
            return take(TokenKind::right_bracket, 1);
        case ',':
            return take(TokenKind::comma, 1);
        case '.':
            return take(TokenKind::dot, 1);
        case '+':
            return take(TokenKind::plus, 1);
        case '-':
            return take(TokenKind::minus, 1);
        case '*':
            return take(TokenKind::star, 1);
        case '/':
            return take(TokenKind::slash, 1);
        case '%':
            return take(TokenKind::percent, 1);
        case '<':
            if (next == '=') {
                return take(TokenKind::less_equal, 2);
            }
            if (next == '>') {
                return substitute(TokenKind::not_equal, 2, "!=");
            }
            return take(TokenKind::less, 1);
        case '>':
            return next == '=' ? take(TokenKind::greater_equal, 2) : take(TokenKind::greater, 1);
        case '=':
            if (next == '=') {
                return take(TokenKind::equal, 2);
            }
            if (next == '>') {
                return substitute(TokenKind::greater_equal, 2, ">=");
            }
            if (next == '<') {
                return substitute(TokenKind::less_equal, 2, "<=");
            }
            if (errors_.size() >= kMaxErrors) {
                return false;
            }
            Error(pos_, "syntax", "'=' is not an operator", "use '==' to compare");
            return take(TokenKind::equal, 1);
        case '!':
            if (next == '=') {
                return take(TokenKind::not_equal, 2);
            }
            return substitute(TokenKind::keyword_not, 1, "not");
        case '&':
            return substitute(TokenKind::keyword_and, next == '&' ? 2 : 1, "and");
        case '|':
            return substitute(TokenKind::keyword_or, next == '|' ? 2 : 1, "or");
        default:
            break;
        }
        UnexpectedCharacter();
        return false;
    }

    void UnexpectedCharacter() {
        const auto byte = static_cast<unsigned char>(text_[pos_]);
        if (byte < 0x80) {
            if (byte < 0x20 || byte == 0x7F) {
                static constexpr std::string_view kHex = "0123456789ABCDEF";
                Error(pos_, "syntax",
                      std::string("unexpected control character U+00") + kHex[byte >> 4U] + kHex[byte & 0xFU]);
            } else {
                Error(pos_, "syntax", std::string("unexpected character '") + text_[pos_] + "'");
            }
            return;
        }
        char32_t code_point = 0;
        const std::size_t length = DecodeUtf8(text_, pos_, code_point);
        if (length == 0) {
            Error(pos_, "syntax", "text is not valid UTF-8", "save the workflow file as UTF-8");
            return;
        }
        const std::string character(text_.substr(pos_, length));
        for (const auto& look_alike : kLookAlikes) {
            if (look_alike.code_point == code_point) {
                Error(pos_, "syntax", "unexpected character '" + character + "'",
                      look_alike.ascii == " "
                          ? std::string("this is a full-width space; use an ordinary space")
                          : "use '" + std::string(look_alike.ascii) + "' instead of '" + character + "'");
                return;
            }
        }
        // Most likely unquoted text such as 乡镇: suggest quoting the whole word.
        std::size_t end = pos_;
        while (end < text_.size()) {
            char32_t ignored = 0;
            const std::size_t step = DecodeUtf8(text_, end, ignored);
            if (step == 0 || (step == 1 && !IsIdentifierChar(text_[end]))) {
                break;
            }
            end += step;
        }
        Error(pos_, "syntax", "unexpected character '" + character + "'",
              "names use ASCII letters, digits and '_'; write text in quotes: '" +
                  std::string(text_.substr(pos_, end - pos_)) + "'");
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    std::vector<ExpressionError>& errors_;
};

bool IsWord(TokenKind kind) {
    switch (kind) {
    case TokenKind::identifier:
    case TokenKind::keyword_and:
    case TokenKind::keyword_or:
    case TokenKind::keyword_not:
    case TokenKind::keyword_in:
    case TokenKind::keyword_true:
    case TokenKind::keyword_false:
    case TokenKind::keyword_null:
        return true;
    default:
        return false;
    }
}

// A token that starts a value where an operator was expected suggests a
// missing 'and' / 'or' between two conditions.
bool StartsValue(TokenKind kind) {
    switch (kind) {
    case TokenKind::identifier:
    case TokenKind::integer:
    case TokenKind::number:
    case TokenKind::string:
    case TokenKind::keyword_true:
    case TokenKind::keyword_false:
    case TokenKind::keyword_null:
    case TokenKind::left_paren:
    case TokenKind::left_bracket:
        return true;
    default:
        return false;
    }
}

struct Infix {
    BinaryOp op;
    std::size_t tokens = 1;  // "not in" takes two
    bool negated = false;    // "not in"
};

std::optional<Infix> InfixOperator(TokenKind kind, TokenKind next) {
    switch (kind) {
    case TokenKind::keyword_or:
        return Infix{BinaryOp::logical_or};
    case TokenKind::keyword_and:
        return Infix{BinaryOp::logical_and};
    case TokenKind::equal:
        return Infix{BinaryOp::equal};
    case TokenKind::not_equal:
        return Infix{BinaryOp::not_equal};
    case TokenKind::less:
        return Infix{BinaryOp::less};
    case TokenKind::less_equal:
        return Infix{BinaryOp::less_equal};
    case TokenKind::greater:
        return Infix{BinaryOp::greater};
    case TokenKind::greater_equal:
        return Infix{BinaryOp::greater_equal};
    case TokenKind::keyword_in:
        return Infix{BinaryOp::in};
    case TokenKind::keyword_not:
        if (next == TokenKind::keyword_in) {
            return Infix{BinaryOp::in, 2, true};
        }
        return std::nullopt;
    case TokenKind::plus:
        return Infix{BinaryOp::add};
    case TokenKind::minus:
        return Infix{BinaryOp::subtract};
    case TokenKind::star:
        return Infix{BinaryOp::multiply};
    case TokenKind::slash:
        return Infix{BinaryOp::divide};
    case TokenKind::percent:
        return Infix{BinaryOp::modulo};
    default:
        return std::nullopt;
    }
}

// A parsed sub-tree and its height (a leaf is 1).
struct Parsed {
    ExpressionPtr expression;
    std::size_t height = 0;
};

class Parser {
public:
    Parser(std::string_view text, std::vector<Token> tokens, const ExpressionLimits& limits,
           std::vector<ExpressionError>& errors)
        : text_(text), tokens_(std::move(tokens)), limits_(limits), errors_(errors) {}

    ExpressionPtr ParseAll() {
        if (Peek().kind == TokenKind::end) {
            Fail(0, "syntax", "expression is empty");
            return nullptr;
        }
        Parsed parsed = ParseBinary(0);
        if (failed_) {
            return nullptr;
        }
        const Token& rest = Peek();
        if (rest.kind == TokenKind::right_paren) {
            Fail(rest.offset, "syntax", "unmatched ')'");
        } else if (rest.kind != TokenKind::end) {
            Fail(rest.offset, "syntax", "expected an operator but found " + Describe(rest), MissingOperatorHint(rest));
        }
        return errors_.empty() ? std::move(parsed.expression) : nullptr;
    }

private:
    // Counts one level of nesting for as long as it lives.
    class Nesting {
    public:
        Nesting(Parser& parser, std::size_t offset) : parser_(parser), ok_(parser.Enter(offset)) {}
        ~Nesting() { --parser_.depth_; }
        Nesting(const Nesting&) = delete;
        Nesting& operator=(const Nesting&) = delete;
        bool Ok() const { return ok_; }

    private:
        Parser& parser_;
        bool ok_;
    };

    bool Enter(std::size_t offset) {
        if (++depth_ > limits_.max_depth) {
            TooDeep(offset);
            return false;
        }
        return true;
    }

    void TooDeep(std::size_t offset) {
        Fail(offset, "too-deep",
             "expression is nested too deeply (more than " + std::to_string(limits_.max_depth) + " levels)",
             "split it into simpler conditions");
    }

    const Token& Peek(std::size_t ahead = 0) const {
        const std::size_t index = position_ + ahead;
        return index < tokens_.size() ? tokens_[index] : tokens_.back();
    }

    const Token& Advance() {
        const Token& token = tokens_[position_];
        if (position_ + 1 < tokens_.size()) {
            ++position_;
        }
        end_ = token.offset + token.length;
        return token;
    }

    // A mistake parsing can continue after; false once there are too many to go on.
    bool Error(std::size_t offset, std::string code, std::string message, std::string hint = {}) {
        if (errors_.size() >= kMaxErrors) {
            failed_ = true;
            return false;
        }
        errors_.push_back({offset, std::move(code), std::move(message), std::move(hint)});
        return true;
    }

    Parsed Fail(std::size_t offset, std::string code, std::string message, std::string hint = {}) {
        if (!failed_) {
            Error(offset, std::move(code), std::move(message), std::move(hint));
            failed_ = true;
        }
        return {};
    }

    // "'text'" for a token as written, shortened if long; "the end of the expression" at the end.
    std::string Describe(const Token& token) const {
        if (token.kind == TokenKind::end) {
            return "the end of the expression";
        }
        std::string_view written = text_.substr(token.offset, token.length);
        if (written.size() > 24) {
            std::size_t cut = 20;
            while (cut > 0 && (static_cast<unsigned char>(written[cut]) & 0xC0U) == 0x80U) {
                --cut;  // do not split a UTF-8 sequence
            }
            return "'" + std::string(written.substr(0, cut)) + "...'";
        }
        return "'" + std::string(written) + "'";
    }

    static std::string MissingOperatorHint(const Token& token) {
        return StartsValue(token.kind) ? "is an operator missing? combine conditions with 'and' or 'or'" : "";
    }

    template <typename Node>
    ExpressionPtr NewNode(Node node, std::size_t offset) {
        auto expression = std::make_unique<Expression>();
        expression->node = std::move(node);
        expression->offset = offset;
        expression->length = end_ > offset ? end_ - offset : 0;
        return expression;
    }

    Parsed Finish(ExpressionPtr expression, std::size_t height, std::size_t where) {
        if (height > limits_.max_depth) {
            TooDeep(where);
            return {};
        }
        return {std::move(expression), height};
    }

    // Precedence climbing: operators binding at least as tightly as `min_precedence`.
    Parsed ParseBinary(int min_precedence) {
        const Nesting nesting(*this, Peek().offset);
        if (!nesting.Ok()) {
            return {};
        }
        Parsed left = ParsePrefix(min_precedence);
        bool left_is_comparison = false;  // built right here, so a further comparison would chain
        while (left.expression) {
            const auto infix = InfixOperator(Peek().kind, Peek(1).kind);
            if (!infix || model::Precedence(infix->op) < min_precedence) {
                break;
            }
            const int precedence = model::Precedence(infix->op);
            const std::size_t operator_offset = Peek().offset;
            if (model::IsComparison(infix->op) && left_is_comparison) {
                if (!Error(operator_offset, "syntax", "comparisons cannot be chained",
                           "combine them with 'and', e.g. 'a < b and b < c'")) {
                    return {};
                }
            }
            for (std::size_t i = 0; i < infix->tokens; ++i) {
                Advance();
            }
            Parsed right = ParseBinary(precedence + 1);
            if (!right.expression) {
                return {};
            }
            const std::size_t offset = left.expression->offset;
            std::size_t height = 1 + std::max(left.height, right.height);
            ExpressionPtr node =
                NewNode(BinaryNode{infix->op, std::move(left.expression), std::move(right.expression), operator_offset},
                        offset);
            if (infix->negated) {
                ++height;
                node = NewNode(UnaryNode{UnaryOp::logical_not, std::move(node)}, offset);
            }
            left = Finish(std::move(node), height, operator_offset);
            left_is_comparison = model::IsComparison(infix->op);
        }
        return left;
    }

    Parsed ParsePrefix(int min_precedence) {
        const Token& token = Peek();
        const std::size_t offset = token.offset;
        if (token.kind == TokenKind::keyword_not) {
            if (min_precedence > model::kNotPrecedence) {
                return Fail(offset, "syntax", "'not' must be inside parentheses here", "write '(not ...)'");
            }
            Advance();
            Parsed operand = ParseBinary(model::kNotPrecedence);
            if (!operand.expression) {
                return {};
            }
            return Finish(NewNode(UnaryNode{UnaryOp::logical_not, std::move(operand.expression)}, offset),
                          operand.height + 1, offset);
        }
        if (token.kind == TokenKind::minus) {
            Advance();
            // Folded into the literal, except an integer zero, which has no sign to print.
            const Token& next = Peek();
            if (next.kind == TokenKind::number ||
                (next.kind == TokenKind::integer && (next.magnitude != 0 || next.out_of_range))) {
                return ParseNumber(offset, true);
            }
            const Nesting nesting(*this, offset);
            if (!nesting.Ok()) {
                return {};
            }
            Parsed operand = ParsePrefix(model::kNegatePrecedence);
            if (!operand.expression) {
                return {};
            }
            return Finish(NewNode(UnaryNode{UnaryOp::negate, std::move(operand.expression)}, offset),
                          operand.height + 1, offset);
        }
        return ParsePrimary();
    }

    // A number literal at the current token; `negative` when a '-' at `offset` precedes it.
    Parsed ParseNumber(std::size_t offset, bool negative) {
        const Token& token = Advance();
        Value value;
        if (token.kind == TokenKind::number) {
            if (token.out_of_range &&
                !Error(token.offset, "bad-literal", "number " + Describe(token) + " is out of range")) {
                return {};
            }
            value.data = negative ? -token.number : token.number;
        } else {
            const std::uint64_t limit = negative ? kMaxMagnitude : kMaxMagnitude - 1;
            if (token.out_of_range || token.magnitude > limit) {
                if (!Error(token.offset, "bad-literal", "integer " + Describe(token) + " is too large",
                           "integers range from -9223372036854775808 to 9223372036854775807")) {
                    return {};
                }
                value.data = std::int64_t{0};
            } else if (negative) {
                // -2^63 is representable although 2^63 is not: negate in unsigned arithmetic.
                value.data = static_cast<std::int64_t>(~token.magnitude + 1);
            } else {
                value.data = static_cast<std::int64_t>(token.magnitude);
            }
        }
        return {NewNode(LiteralNode{std::move(value)}, offset), 1};
    }

    Parsed ParsePrimary() {
        const Token& token = Peek();
        const std::size_t offset = token.offset;
        switch (token.kind) {
        case TokenKind::integer:
        case TokenKind::number:
            return ParseNumber(offset, false);
        case TokenKind::string: {
            Value value{Advance().text};
            return {NewNode(LiteralNode{std::move(value)}, offset), 1};
        }
        case TokenKind::keyword_true:
        case TokenKind::keyword_false:
            Advance();
            return {NewNode(LiteralNode{Value{token.kind == TokenKind::keyword_true}}, offset), 1};
        case TokenKind::keyword_null:
            Advance();
            return {NewNode(LiteralNode{Value{}}, offset), 1};
        case TokenKind::left_paren:
            return ParseGroup();
        case TokenKind::left_bracket:
            return ParseList();
        case TokenKind::identifier:
            return ParsePathOrCall();
        case TokenKind::end: {
            const Token& previous = tokens_[position_ > 0 ? position_ - 1 : 0];
            return Fail(offset, "syntax", "expected a value after " + Describe(previous));
        }
        default:
            return Fail(offset, "syntax", "expected a value but found " + Describe(token));
        }
    }

    Parsed ParseGroup() {
        const std::size_t open = Advance().offset;
        Parsed inner = ParseBinary(0);
        if (!inner.expression) {
            return {};
        }
        if (Peek().kind != TokenKind::right_paren) {
            return Unclosed(open, "(", ")");
        }
        Advance();
        // The group's span includes its parentheses.
        inner.expression->offset = open;
        inner.expression->length = end_ - open;
        return inner;
    }

    Parsed Unclosed(std::size_t open, std::string_view opening, std::string_view closing) {
        const Token& found = Peek();
        if (found.kind == TokenKind::end) {
            return Fail(open, "syntax",
                        "missing '" + std::string(closing) + "' to close this '" + std::string(opening) + "'");
        }
        return Fail(found.offset, "syntax", "expected '" + std::string(closing) + "' but found " + Describe(found),
                    MissingOperatorHint(found));
    }

    // Comma-separated expressions up to `close`; the opening token is consumed already.
    bool ParseItems(std::size_t open, TokenKind close, std::string_view opening, std::string_view closing,
                    bool trailing_comma, std::vector<ExpressionPtr>& items, std::size_t& height) {
        if (Peek().kind == close) {
            Advance();
            return true;
        }
        while (true) {
            Parsed item = ParseBinary(0);
            if (!item.expression) {
                return false;
            }
            height = std::max(height, item.height);
            items.push_back(std::move(item.expression));
            if (Peek().kind == TokenKind::comma) {
                Advance();
                if (trailing_comma && Peek().kind == close) {
                    Advance();
                    return true;
                }
                continue;
            }
            if (Peek().kind == close) {
                Advance();
                return true;
            }
            if (Peek().kind == TokenKind::end) {
                Unclosed(open, opening, closing);
            } else {
                Fail(Peek().offset, "syntax",
                     "expected ',' or '" + std::string(closing) + "' but found " + Describe(Peek()),
                     MissingOperatorHint(Peek()));
            }
            return false;
        }
    }

    Parsed ParseList() {
        const std::size_t open = Advance().offset;
        ListNode list;
        std::size_t height = 0;
        if (!ParseItems(open, TokenKind::right_bracket, "[", "]", true, list.items, height)) {
            return {};
        }
        return Finish(NewNode(std::move(list), open), height + 1, open);
    }

    Parsed ParsePathOrCall() {
        PathNode path;
        const std::size_t offset = Peek().offset;
        path.segment_offsets.push_back(offset);
        path.segments.push_back(Advance().text);
        while (Peek().kind == TokenKind::dot) {
            Advance();
            if (!IsWord(Peek().kind)) {
                return Fail(Peek().offset, "syntax", "expected a field name after '.' but found " + Describe(Peek()));
            }
            path.segment_offsets.push_back(Peek().offset);
            path.segments.push_back(Advance().text);
        }
        if (Peek().kind != TokenKind::left_paren) {
            return {NewNode(std::move(path), offset), 1};
        }
        if (path.segments.size() > 1) {
            return Fail(offset, "syntax", "'" + model::JoinPath(path.segments) + "' is not a function",
                        "functions are called by name alone, e.g. len(form.items)");
        }
        const std::size_t open = Advance().offset;
        CallNode call{std::move(path.segments.front()), {}};
        std::size_t height = 0;
        if (!ParseItems(open, TokenKind::right_paren, "(", ")", false, call.arguments, height)) {
            return {};
        }
        return Finish(NewNode(std::move(call), offset), height + 1, offset);
    }

    std::string_view text_;
    std::vector<Token> tokens_;
    const ExpressionLimits& limits_;
    std::vector<ExpressionError>& errors_;
    std::size_t position_ = 0;
    std::size_t end_ = 0;  // end offset of the last token consumed
    std::size_t depth_ = 0;
    bool failed_ = false;
};

}  // namespace

ParseResult ParseExpression(std::string_view text, const ExpressionLimits& limits) {
    ParseResult result;
    if (text.size() > limits.max_length) {
        result.errors.push_back({0, "too-long",
                                 "expression is too long (" + std::to_string(text.size()) + " bytes; the limit is " +
                                     std::to_string(limits.max_length) + ")",
                                 "split it into simpler conditions"});
        return result;
    }
    std::vector<Token> tokens;
    Lexer lexer(text, result.errors);
    if (!lexer.Run(tokens)) {
        return result;
    }
    Parser parser(text, std::move(tokens), limits, result.errors);
    result.expression = parser.ParseAll();
    if (!result.errors.empty()) {
        result.expression.reset();
    }
    return result;
}

}  // namespace cascade::lang
