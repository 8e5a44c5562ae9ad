/* RE2-syntax regular expressions: an iterative parser that compiles straight
 * into a Pike VM program, and the VM. Syntax and limits follow RE2 (Go's
 * regexp/syntax is the same grammar), so patterns written for Envoy behave
 * the same here; see regex.h for the guarantees. */
#include "regex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    MAX_INSTS = 2000,   /* bounds memory and the per-byte cost of a match */
    MAX_RANGES = 4000,  /* character class ranges of the whole pattern */
    MAX_NESTING = 250,  /* open groups; the parser keeps them in an array */
    MAX_REPEAT = 1000,  /* RE2's cap on {n,m} and on nested counts multiplied */
    RUNE_MAX = 0x10FFFF,
    NOT_A_RUNE = -1,    /* an invalid UTF-8 byte of the text: matches nothing */
};

/* Bit order follows "imsU" (see open_group). U only swaps greediness,
 * which cannot change whether there is a match. */
enum { FOLD_CASE = 1, MULTI_LINE = 2, DOT_NL = 4 };

enum opcode { OP_CHAR, OP_CLASS, OP_SPLIT, OP_JMP, OP_ASSERT, OP_MATCH };

/* The (?m) variants of ^ and $ sit MULTI_LINE places after the plain ones. */
enum assertion { BEGIN_TEXT, END_TEXT, BEGIN_LINE, END_LINE, WORD_BOUNDARY, NOT_WORD_BOUNDARY };

/* Jump targets are relative to the instruction, so a compiled piece stays
 * valid when it is moved (a SPLIT inserted before it) or copied ({n,m}). */
struct inst {
    int32_t op;
    int32_t x; /* CHAR: rune; CLASS: first range; SPLIT, JMP: target; ASSERT: kind */
    int32_t y; /* CLASS: range count; SPLIT: second target */
};

struct range {
    int32_t lo, hi;
};

/* A sparse set of program counters: O(1) insert, membership and clear. */
struct thread_list {
    uint16_t *dense, *sparse;
    int count;
};

struct hfi_regex {
    const struct inst *prog;
    const struct range *ranges;
    struct thread_list *lists; /* two: threads at this position and the next */
    uint16_t *stack;           /* for following epsilon edges without recursion */
};

/* c and c + delta are case variants for every c in [lo, hi]. Every orbit here
 * is a star around one rune (k-K-KELVIN SIGN), so two steps close it. */
struct fold_pair {
    uint16_t lo, hi;
    int16_t delta;
};

static const struct fold_pair fold_pairs[] = {
    {'A', 'Z', 32}, {'k', 'k', 0x212A - 'k'}, {'s', 's', 0x17F - 's'},
    {0xC0, 0xD6, 32}, {0xD8, 0xDE, 32}, {0xB5, 0xB5, 0x3BC - 0xB5}, {0xDF, 0xDF, 0x1E9E - 0xDF},
    {0xE5, 0xE5, 0x212B - 0xE5}, {0xFF, 0xFF, 0x178 - 0xFF},
    /* Greek */
    {0x386, 0x386, 38}, {0x388, 0x38A, 37}, {0x38C, 0x38C, 64}, {0x38E, 0x38F, 63},
    {0x391, 0x3A1, 32}, {0x3A3, 0x3AB, 32}, {0x3C2, 0x3C2, 1}, {0x3B2, 0x3B2, 0x3D0 - 0x3B2},
    {0x3B5, 0x3B5, 0x3F5 - 0x3B5}, {0x3B8, 0x3B8, 0x3D1 - 0x3B8}, {0x3B8, 0x3B8, 0x3F4 - 0x3B8},
    {0x3B9, 0x3B9, 0x345 - 0x3B9}, {0x3B9, 0x3B9, 0x1FBE - 0x3B9}, {0x3BA, 0x3BA, 0x3F0 - 0x3BA},
    {0x3C0, 0x3C0, 0x3D6 - 0x3C0}, {0x3C1, 0x3C1, 0x3F1 - 0x3C1}, {0x3C6, 0x3C6, 0x3D5 - 0x3C6},
    {0x3C9, 0x3C9, 0x2126 - 0x3C9},
    /* Cyrillic */
    {0x400, 0x40F, 80}, {0x410, 0x42F, 32}, {0x432, 0x432, 0x1C80 - 0x432},
    {0x434, 0x434, 0x1C81 - 0x434}, {0x43E, 0x43E, 0x1C82 - 0x43E}, {0x441, 0x442, 0x1C83 - 0x441},
    {0x442, 0x442, 0x1C85 - 0x442}, {0x44A, 0x44A, 0x1C86 - 0x44A},
};

/* Perl classes first, then POSIX names; ranges are byte pairs (lo, hi). */
struct named_class {
    char name[7];
    uint8_t count;
    char ranges[8];
};

enum { PERL_CLASSES = 3 };

static const struct named_class named_classes[] = {
    {"d", 1, "09"}, {"s", 3, "\t\n\f\r  "}, {"w", 4, "09AZ__az"},
    {"alnum", 3, "09AZaz"}, {"alpha", 2, "AZaz"}, {"ascii", 1, "\0\x7f"}, {"blank", 2, "\t\t  "},
    {"cntrl", 2, "\0\x1f\x7f\x7f"}, {"digit", 1, "09"}, {"graph", 1, "!~"}, {"lower", 1, "az"},
    {"print", 1, " ~"}, {"punct", 4, "!/:@[`{~"}, {"space", 2, "\t\r  "}, {"upper", 1, "AZ"},
    {"word", 4, "09AZ__az"}, {"xdigit", 3, "09AFaf"},
};

struct frame {
    int start;        /* first instruction of the group */
    int alt_start;    /* first instruction of the current alternative */
    int pending_jmps; /* JMPs to the group's end, chained through x; -1 ends */
    int atom_start;   /* what a repetition applies to; -1 when nothing */
    int atom_product; /* largest product of nested counts inside that atom */
    int max_product;  /* the same over the whole group */
    unsigned flags;   /* restored at the closing parenthesis */
    size_t offset;    /* of the opening parenthesis */
};

struct parser {
    const uint8_t *s;
    size_t len, pos, token;
    unsigned flags;
    int after_repeat;
    int depth;
    int ninsts, nranges;
    int segment; /* first range of the class (or negated group) being built */
    const char *error;
    size_t error_offset;
    struct frame frames[MAX_NESTING];
    struct inst prog[MAX_INSTS];
    struct range ranges[MAX_RANGES];
};

static int fail(struct parser *p, size_t offset, const char *what)
{
    p->error = what;
    p->error_offset = offset;
    return 0;
}

static int is_word_byte(int c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int is_octal(int c)
{
    return c >= '0' && c <= '7';
}

/* Strict UTF-8: overlong forms, surrogates and truncated sequences decode as
 * NOT_A_RUNE one byte wide. */
static size_t decode_utf8(const uint8_t *s, size_t len, int32_t *out)
{
    static const int32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t need = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 1;
    int32_t c = s[0] & (0x7F >> need);
    *out = s[0];
    if (s[0] < 0x80)
        return 1;
    *out = NOT_A_RUNE;
    if (need == 1 || s[0] >= 0xF8 || need > len)
        return 1;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 1;
        c = c << 6 | (s[i] & 0x3F);
    }
    if (c < smallest[need] || c > RUNE_MAX || (c >= 0xD800 && c <= 0xDFFF))
        return 1;
    *out = c;
    return need;
}

static int next_rune(struct parser *p, int32_t *out)
{
    p->pos += decode_utf8(p->s + p->pos, p->len - p->pos, out);
    return *out != NOT_A_RUNE || fail(p, p->pos - 1, "invalid UTF-8");
}

/* ---- program building ---- */

static int emit(struct parser *p, int op, int x, int y)
{
    if (p->ninsts >= MAX_INSTS - 1) /* the last slot is for MATCH */
        return fail(p, p->token, "pattern too large (over 2000 instructions)");
    p->prog[p->ninsts++] = (struct inst){op, x, y};
    return 1;
}

static int insert(struct parser *p, int at, int op, int x, int y)
{
    if (!emit(p, op, x, y))
        return 0;
    memmove(&p->prog[at + 1], &p->prog[at], (size_t)(p->ninsts - 1 - at) * sizeof *p->prog);
    p->prog[at] = (struct inst){op, x, y};
    return 1;
}

static int copy(struct parser *p, int start, int len)
{
    if (p->ninsts + len >= MAX_INSTS)
        return fail(p, p->token, "pattern too large (over 2000 instructions)");
    memcpy(&p->prog[p->ninsts], &p->prog[start], (size_t)len * sizeof *p->prog);
    p->ninsts += len;
    return 1;
}

static struct frame *top(struct parser *p)
{
    return &p->frames[p->depth];
}

static void begin_atom(struct parser *p)
{
    top(p)->atom_start = p->ninsts;
    top(p)->atom_product = 1;
}

/* Applies {min,max} (max -1: unbounded) to the code at [start, ninsts). */
static int emit_repeat(struct parser *p, int start, int min, int max)
{
    int len = p->ninsts - start;
    if (max == 0) {
        p->ninsts = start;
        return 1;
    }
    if (min == 0) {
        /* x* is L: SPLIT x, out; x; JMP L. x? is SPLIT x, out; x. */
        if (!insert(p, start, OP_SPLIT, 1, len + (max < 0 ? 2 : 1)))
            return 0;
        if (max < 0)
            return emit(p, OP_JMP, -(len + 1), 0);
        start++;
        max--;
    } else {
        for (int i = 1; i < min; i++)
            if (!copy(p, start, len))
                return 0;
        if (max < 0) /* x+ is L: x; SPLIT L, out */
            return emit(p, OP_SPLIT, -len, 1);
        max -= min;
    }
    for (; max > 0; max--)
        if (!emit(p, OP_SPLIT, 1, len + 1) || !copy(p, start, len))
            return 0;
    return 1;
}

/* ---- character classes: sorted, merged ranges; negation computed here ---- */

static void normalize(struct parser *p, int from)
{
    struct range *r = p->ranges;
    for (int i = from + 1; i < p->nranges; i++) {
        struct range x = r[i];
        int j = i;
        for (; j > from && r[j - 1].lo > x.lo; j--)
            r[j] = r[j - 1];
        r[j] = x;
    }
    int out = from;
    for (int i = from; i < p->nranges; i++) {
        if (out > from && r[i].lo <= r[out - 1].hi + 1) {
            if (r[i].hi > r[out - 1].hi)
                r[out - 1].hi = r[i].hi;
        } else {
            r[out++] = r[i];
        }
    }
    p->nranges = out;
}

static int add_range(struct parser *p, int32_t lo, int32_t hi)
{
    if (p->nranges == MAX_RANGES) {
        normalize(p, p->segment);
        if (p->nranges == MAX_RANGES)
            return fail(p, p->token, "pattern too large (over 4000 class ranges)");
    }
    p->ranges[p->nranges++] = (struct range){lo, hi};
    return 1;
}

/* Replaces ranges[from..] by its complement; the gaps are written behind the
 * range being read, so this works in place. */
static int complement(struct parser *p, int from)
{
    normalize(p, from);
    int32_t next = 0;
    int end = p->nranges, out = from;
    for (int i = from; i < end; i++) {
        struct range x = p->ranges[i];
        if (x.lo > next)
            p->ranges[out++] = (struct range){next, x.lo - 1};
        next = x.hi + 1;
    }
    p->nranges = out;
    return next > RUNE_MAX || add_range(p, next, RUNE_MAX);
}

/* Adds [lo, hi] and, depth steps deep, the case variants of its runes. */
static int add_folded(struct parser *p, int32_t lo, int32_t hi, int depth)
{
    if (!add_range(p, lo, hi))
        return 0;
    for (size_t i = 0; depth > 0 && i < sizeof fold_pairs / sizeof *fold_pairs; i++) {
        const struct fold_pair *f = &fold_pairs[i];
        int32_t d = f->delta;
        int32_t a = lo > f->lo ? lo : f->lo, b = hi < f->hi ? hi : f->hi;
        if (a <= b && !add_folded(p, a + d, b + d, depth - 1))
            return 0;
        a = lo > f->lo + d ? lo : f->lo + d;
        b = hi < f->hi + d ? hi : f->hi + d;
        if (a <= b && !add_folded(p, a - d, b - d, depth - 1))
            return 0;
    }
    return 1;
}

static int fold_depth(const struct parser *p)
{
    return p->flags & FOLD_CASE ? 2 : 0;
}

/* Under (?i) RE2 negates the case-closed set, so (?i)\W excludes KELVIN SIGN. */
static int add_named_class(struct parser *p, const struct named_class *c, int negated)
{
    int outer = p->segment;
    p->segment = p->nranges;
    for (int i = 0; i < c->count; i++)
        if (!add_folded(p, (uint8_t)c->ranges[2 * i], (uint8_t)c->ranges[2 * i + 1], fold_depth(p)))
            return 0;
    if (negated && !complement(p, p->segment))
        return 0;
    p->segment = outer;
    return 1;
}

static void begin_class(struct parser *p)
{
    p->segment = p->nranges;
}

static int end_class(struct parser *p, int negated)
{
    int from = p->segment;
    if (negated) {
        if (!complement(p, from))
            return 0;
    } else {
        normalize(p, from);
    }
    int count = p->nranges - from;
    if (count == 1 && p->ranges[from].lo == p->ranges[from].hi) {
        p->nranges = from;
        return emit(p, OP_CHAR, p->ranges[from].lo, 0);
    }
    return emit(p, OP_CLASS, from, count);
}

static int emit_literal(struct parser *p, int32_t c)
{
    begin_atom(p);
    begin_class(p);
    return add_folded(p, c, c, fold_depth(p)) && end_class(p, 0);
}

/* '.' is [^\n], or under (?s) the complement of nothing. */
static int emit_dot(struct parser *p)
{
    begin_atom(p);
    begin_class(p);
    return (p->flags & DOT_NL || add_range(p, '\n', '\n')) && end_class(p, 1);
}

static const struct named_class *perl_class(int c)
{
    int lower = c | 0x20;
    return lower == 'd' ? &named_classes[0] : lower == 's' ? &named_classes[1]
         : lower == 'w' ? &named_classes[2] : NULL;
}

static int emit_assert(struct parser *p, int kind)
{
    begin_atom(p);
    return emit(p, OP_ASSERT, kind, 0);
}

/* ---- parsing ---- */

/* An escape standing for one rune, at p->pos (the backslash). */
static int parse_escape(struct parser *p, int32_t *out)
{
    static const char controls[] = "a\af\fn\nr\rt\tv\v";
    size_t at = p->pos;
    if (at + 1 >= p->len)
        return fail(p, at, "trailing backslash");
    int c = p->s[at + 1];
    p->pos = at + 2;
    if (c >= '1' && c <= '9' && !(c <= '7' && p->pos < p->len && is_octal(p->s[p->pos])))
        return fail(p, at, "backreferences like \\1 are not supported");
    if (is_octal(c)) { /* RE2 reads \0, \12 and \123 as octal */
        int32_t v = c - '0';
        for (int i = 0; i < 2 && p->pos < p->len && is_octal(p->s[p->pos]); i++)
            v = v * 8 + (p->s[p->pos++] - '0');
        *out = v;
        return 1;
    }
    if (c == 'x') { /* \xHH or \x{H...} up to 10FFFF */
        const uint8_t *s = p->s;
        int brace = p->pos < p->len && s[p->pos] == '{';
        size_t first = p->pos += brace;
        int32_t v = 0;
        while (p->pos < p->len && (brace || p->pos - first < 2) && hex_value(s[p->pos]) >= 0 && v <= RUNE_MAX)
            v = v * 16 + hex_value(s[p->pos++]);
        if (v > RUNE_MAX || (brace ? p->pos == first || p->pos >= p->len || s[p->pos++] != '}' : p->pos - first < 2))
            return fail(p, at, "invalid \\x escape (\\xHH or \\x{H...} up to 10FFFF)");
        *out = v;
        return 1;
    }
    for (size_t i = 0; i < sizeof controls - 1; i += 2)
        if (c == controls[i]) {
            *out = controls[i + 1];
            return 1;
        }
    if (c < 0x80 && (!is_word_byte(c) || c == '_')) { /* escaped punctuation is itself; RE2 allows \_ too */
        *out = c;
        return 1;
    }
    return fail(p, at, c == 'p' || c == 'P' ? "Unicode classes \\p are not supported" : "invalid escape");
}

static int class_rune(struct parser *p, int32_t *out)
{
    return p->s[p->pos] == '\\' ? parse_escape(p, out) : next_rune(p, out);
}

static int parse_class(struct parser *p)
{
    size_t open = p->pos++;
    int negated = p->pos < p->len && p->s[p->pos] == '^';
    p->pos += negated;
    begin_class(p);
    for (int first = 1; p->pos < p->len && (p->s[p->pos] != ']' || first); first = 0) {
        const uint8_t *s = p->s + p->pos;
        size_t left = p->len - p->pos, item = p->pos;
        if (left > 2 && s[0] == '[' && s[1] == ':') {
            /* Like RE2, look for the closing :] anywhere further on. */
            size_t q = 2;
            while (q + 1 < left && !(s[q] == ':' && s[q + 1] == ']'))
                q++;
            if (q + 1 < left) {
                int neg = s[2] == '^';
                size_t name_len = q - 2 - neg;
                const struct named_class *c = NULL;
                for (size_t i = PERL_CLASSES; i < sizeof named_classes / sizeof *named_classes; i++)
                    if (strlen(named_classes[i].name) == name_len &&
                        !memcmp(named_classes[i].name, s + 2 + neg, name_len))
                        c = &named_classes[i];
                if (!c)
                    return fail(p, item, "unknown POSIX class name");
                if (!add_named_class(p, c, neg))
                    return 0;
                p->pos += q + 2;
                continue;
            }
        }
        if (left >= 2 && s[0] == '\\' && perl_class(s[1])) {
            if (!add_named_class(p, perl_class(s[1]), s[1] < 'a'))
                return 0;
            p->pos += 2;
            continue;
        }
        int32_t lo, hi;
        if (!class_rune(p, &lo))
            return 0;
        hi = lo;
        if (p->len - p->pos >= 2 && p->s[p->pos] == '-' && p->s[p->pos + 1] != ']') {
            p->pos++;
            if (!class_rune(p, &hi))
                return 0;
            if (hi < lo)
                return fail(p, item, "invalid character class range");
        }
        if (!add_folded(p, lo, hi, fold_depth(p)))
            return 0;
    }
    if (p->pos >= p->len)
        return fail(p, open, "missing ]");
    p->pos++;
    return end_class(p, negated);
}

static int open_group(struct parser *p)
{
    size_t at = p->pos, left = p->len - at;
    const uint8_t *s = p->s + at;
    unsigned outer_flags = p->flags;
    p->pos++;
    if (left >= 2 && s[1] == '?') {
        int behind = left > 3 && s[2] == '<';
        size_t name = left > 4 && s[2] == 'P' && s[3] == '<' ? at + 4
                    : left > 3 && s[2] == '<' && s[3] != '=' && s[3] != '!' ? at + 3 : 0;
        if (name) { /* (?P<name>re) and (?<name>re): a plain group here */
            size_t end = name;
            while (end < p->len && is_word_byte(p->s[end]))
                end++;
            if (end == name || end >= p->len || p->s[end] != '>')
                return fail(p, at, "invalid group name");
            p->pos = end + 1;
        } else if (left > 2 && memchr("=!", s[2 + behind], 2)) {
            static const char *const lookaround[] = {
                "lookahead (?= is not supported", "negative lookahead (?! is not supported",
                "lookbehind (?<= is not supported", "negative lookbehind (?<! is not supported"};
            return fail(p, at, lookaround[behind * 2 + (s[2 + behind] == '!')]);
        } else {
            /* (?flags) changes the rest of the enclosing group; (?flags:re) only re. */
            static const char letters[4] = "imsU";
            int negate = 0, saw_flag = 0;
            p->pos++;
            for (;;) {
                int c = p->pos < p->len ? p->s[p->pos++] : 0;
                const char *flag = memchr(letters, c, sizeof letters);
                if (flag) {
                    unsigned bit = 1u << (flag - letters);
                    p->flags = negate ? p->flags & ~bit : p->flags | bit;
                    saw_flag = 1;
                } else if (c == '-' && !negate) {
                    negate = 1;
                    saw_flag = 0;
                } else if ((c == ')' || c == ':') && (saw_flag || !negate)) {
                    if (c == ')')
                        return 1;
                    break;
                } else {
                    return fail(p, at, "invalid or unsupported (? group syntax");
                }
            }
        }
    }
    if (p->depth + 1 >= MAX_NESTING)
        return fail(p, at, "groups nested too deeply");
    p->depth++;
    *top(p) = (struct frame){p->ninsts, p->ninsts, -1, -1, 1, 1, outer_flags, at};
    return 1;
}

static void end_alternation(struct parser *p, struct frame *f)
{
    for (int j = f->pending_jmps; j >= 0;) {
        int next = p->prog[j].x;
        p->prog[j].x = p->ninsts - j;
        j = next;
    }
}

static int close_group(struct parser *p)
{
    if (p->depth == 0)
        return fail(p, p->pos, "unexpected )");
    struct frame *f = top(p), *parent = f - 1;
    end_alternation(p, f);
    p->flags = f->flags;
    p->depth--;
    p->pos++;
    parent->atom_start = f->start;
    parent->atom_product = f->max_product;
    if (f->max_product > parent->max_product)
        parent->max_product = f->max_product;
    return 1;
}

/* At '|': a SPLIT goes before the alternative just finished, and a JMP after
 * it, to be pointed at the group's end when the group closes. */
static int alternate(struct parser *p)
{
    struct frame *f = top(p);
    p->pos++;
    if (!insert(p, f->alt_start, OP_SPLIT, 1, p->ninsts + 2 - f->alt_start) ||
        !emit(p, OP_JMP, f->pending_jmps, 0))
        return 0;
    f->pending_jmps = p->ninsts - 1;
    f->alt_start = p->ninsts;
    f->atom_start = -1;
    return 1;
}

/* RE2's counts: decimal without a leading zero; -1 when there is none. A
 * count too long to hold leaves a digit behind, which makes {...} literal. */
static int parse_count(struct parser *p, size_t *i)
{
    size_t start = *i;
    int v = 0;
    while (*i < p->len && p->s[*i] - '0' < 10u && v < 100000000)
        v = v * 10 + (p->s[(*i)++] - '0');
    return *i == start || (p->s[start] == '0' && *i - start > 1) ? -1 : v;
}

/* {n}, {n,} or {n,m} at p->pos; anything else starting with { is a literal. */
static int parse_braces(struct parser *p, int *min, int *max)
{
    size_t i = p->pos + 1;
    *max = *min = parse_count(p, &i);
    if (*min < 0)
        return 0;
    if (i < p->len && p->s[i] == ',') {
        i++;
        *max = -1;
        if (i < p->len && p->s[i] != '}' && (*max = parse_count(p, &i)) < 0)
            return 0;
    }
    if (i >= p->len || p->s[i] != '}')
        return 0;
    p->pos = i + 1;
    return 1;
}

static int repeat(struct parser *p, int min, int max)
{
    struct frame *f = top(p);
    if (p->pos < p->len && p->s[p->pos] == '?') /* lazy: the same yes/no answer */
        p->pos++;
    if (p->after_repeat)
        return fail(p, p->token, "repeated repetition like a** or possessive a*+ is not supported");
    if (f->atom_start < 0)
        return fail(p, p->token, "missing argument to repetition operator");
    if (min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && max < min))
        return fail(p, p->token, "invalid repeat count (at most 1000, min <= max)");
    int factor = max >= 0 ? max : min;
    if (factor > 0 && (f->atom_product *= factor) > MAX_REPEAT)
        return fail(p, p->token, "nested repeat counts multiply beyond 1000");
    if (f->atom_product > f->max_product)
        f->max_product = f->atom_product;
    return emit_repeat(p, f->atom_start, min, max);
}

static int parse_escape_atom(struct parser *p)
{
    int c = p->pos + 1 < p->len ? p->s[p->pos + 1] : -1;
    int32_t rune;
    switch (c) {
    case 'b':
    case 'B':
        p->pos += 2;
        return emit_assert(p, c == 'b' ? WORD_BOUNDARY : NOT_WORD_BOUNDARY);
    case 'A':
    case 'z':
        p->pos += 2;
        return emit_assert(p, c == 'A' ? BEGIN_TEXT : END_TEXT);
    case 'C':
        return fail(p, p->pos, "\\C (any byte) is not supported");
    case 'Q': /* \Q...\E: literal text */
        p->pos += 2;
        while (p->pos < p->len) {
            if (p->s[p->pos] == '\\' && p->pos + 1 < p->len && p->s[p->pos + 1] == 'E') {
                p->pos += 2;
                break;
            }
            if (!next_rune(p, &rune) || !emit_literal(p, rune))
                return 0;
        }
        return 1;
    }
    if (c >= 0 && perl_class(c)) {
        p->pos += 2;
        begin_atom(p);
        begin_class(p);
        return add_named_class(p, perl_class(c), c < 'a') && end_class(p, 0);
    }
    return parse_escape(p, &rune) && emit_literal(p, rune);
}

static int parse(struct parser *p)
{
    while (p->pos < p->len) {
        int c = p->s[p->token = p->pos], min, max, ok, repeated = 0;
        switch (c) {
        case '(':
            ok = open_group(p);
            break;
        case ')':
            ok = close_group(p);
            break;
        case '|':
            ok = alternate(p);
            break;
        case '*':
        case '+':
        case '?':
            p->pos++;
            ok = repeat(p, c == '+', c == '?' ? 1 : -1);
            repeated = 1;
            break;
        case '^':
        case '$':
            p->pos++;
            ok = emit_assert(p, (c == '^' ? BEGIN_TEXT : END_TEXT) + (p->flags & MULTI_LINE));
            break;
        case '.':
            p->pos++;
            ok = emit_dot(p);
            break;
        case '[':
            begin_atom(p);
            ok = parse_class(p);
            break;
        case '\\':
            ok = parse_escape_atom(p);
            break;
        default:
            if (c == '{' && parse_braces(p, &min, &max)) {
                ok = repeat(p, min, max);
                repeated = 1;
            } else {
                int32_t rune;
                ok = next_rune(p, &rune) && emit_literal(p, rune);
            }
        }
        if (!ok)
            return 0;
        p->after_repeat = repeated;
    }
    if (p->depth > 0)
        return fail(p, top(p)->offset, "missing )");
    end_alternation(p, top(p));
    p->prog[p->ninsts++] = (struct inst){OP_MATCH, 0, 0};
    return 1;
}

static void write_error(char *err, size_t size, size_t offset, const char *what)
{
    char digits[24], *d = digits + sizeof digits - 1;
    *d = '\0';
    do
        *--d = (char)('0' + offset % 10);
    while ((offset /= 10) > 0);
    const char *parts[] = {"invalid regex at offset ", d, ": ", what};
    size_t n = 0;
    if (!size)
        return;
    for (int i = 0; i < 4; i++)
        for (const char *c = parts[i]; *c && n + 1 < size; c++)
            err[n++] = *c;
    err[n] = '\0';
}

int hfi_regex_compile(const char *pattern, size_t len, struct hfi_regex **out, char *err, size_t err_size)
{
    *out = NULL;
    struct parser *p = calloc(1, sizeof *p);
    if (!p) {
        write_error(err, err_size, 0, "out of memory");
        return -1;
    }
    p->s = (const uint8_t *)pattern;
    p->len = len;
    p->frames[0] = (struct frame){0, 0, -1, -1, 1, 1, 0, 0};
    if (!parse(p)) {
        write_error(err, err_size, p->error_offset, p->error);
        free(p);
        return -1;
    }
    /* One block: the header, two thread lists, the program, the ranges, and
     * the VM's uint16 arrays (dense and sparse twice, then the stack). */
    size_t n = (size_t)p->ninsts, m = (size_t)p->nranges;
    struct hfi_regex *re = calloc(1, sizeof *re + 2 * sizeof(struct thread_list) + n * sizeof(struct inst) +
                                         m * sizeof(struct range) + 5 * n * sizeof(uint16_t));
    if (!re) {
        write_error(err, err_size, 0, "out of memory");
        free(p);
        return -1;
    }
    struct thread_list *lists = (struct thread_list *)(re + 1);
    struct inst *prog = (struct inst *)(lists + 2);
    struct range *ranges = (struct range *)(prog + n);
    uint16_t *vm = (uint16_t *)(ranges + m);
    memcpy(prog, p->prog, n * sizeof *prog);
    memcpy(ranges, p->ranges, m * sizeof *ranges);
    for (int i = 0; i < 2; i++) {
        lists[i].dense = vm + 2 * i * n;
        lists[i].sparse = vm + (2 * i + 1) * n;
    }
    re->prog = prog;
    re->ranges = ranges;
    re->lists = lists;
    re->stack = vm + 4 * n;
    free(p);
    *out = re;
    return 0;
}

void hfi_regex_free(struct hfi_regex *re)
{
    free(re);
}

/* ---- matching ---- */

static int assertion_holds(int kind, const uint8_t *t, size_t len, size_t pos)
{
    switch (kind) {
    case BEGIN_TEXT:
        return pos == 0;
    case END_TEXT:
        return pos == len;
    case BEGIN_LINE:
        return pos == 0 || t[pos - 1] == '\n';
    case END_LINE:
        return pos == len || t[pos] == '\n';
    default: /* \b and \B look at ASCII word bytes, as in RE2 */
        return ((pos > 0 && is_word_byte(t[pos - 1])) != (pos < len && is_word_byte(t[pos]))) ==
               (kind == WORD_BOUNDARY);
    }
}

static void push_thread(struct thread_list *l, uint16_t *stack, int *depth, int pc)
{
    uint16_t i = l->sparse[pc];
    if (i < l->count && l->dense[i] == pc)
        return;
    l->sparse[pc] = (uint16_t)l->count;
    l->dense[l->count++] = (uint16_t)pc;
    stack[(*depth)++] = (uint16_t)pc;
}

/* Adds pc and all it reaches without consuming text at pos; true when that
 * includes MATCH. Each pc enters the list once, which also bounds the stack. */
static int add_thread(const struct hfi_regex *re, struct thread_list *l, int pc, const uint8_t *t, size_t len,
                      size_t pos)
{
    int depth = 0;
    push_thread(l, re->stack, &depth, pc);
    while (depth > 0) {
        pc = re->stack[--depth];
        const struct inst *in = &re->prog[pc];
        switch (in->op) {
        case OP_MATCH:
            return 1;
        case OP_SPLIT:
            push_thread(l, re->stack, &depth, pc + in->y);
            /* fall through */
        case OP_JMP:
            push_thread(l, re->stack, &depth, pc + in->x);
            break;
        case OP_ASSERT:
            if (assertion_holds(in->x, t, len, pos))
                push_thread(l, re->stack, &depth, pc + 1);
            break;
        }
    }
    return 0;
}

static int in_class(const struct hfi_regex *re, const struct inst *in, int32_t c)
{
    for (const struct range *r = &re->ranges[in->x], *end = r + in->y; r < end && c >= r->lo; r++)
        if (c <= r->hi)
            return 1;
    return 0;
}

bool hfi_regex_search(const struct hfi_regex *re, const char *text, size_t len)
{
    const uint8_t *t = (const uint8_t *)text;
    struct thread_list *now = &re->lists[0], *next = &re->lists[1];
    now->count = 0;
    for (size_t pos = 0;; ) {
        if (add_thread(re, now, 0, t, len, pos))
            return true;
        if (pos == len)
            return false;
        int32_t c;
        size_t width = decode_utf8(t + pos, len - pos, &c);
        /* RE2 starts a match at every byte, so an empty match (\B) may sit
         * inside a multibyte rune. */
        for (size_t k = 1; k < width; k++) {
            next->count = 0;
            if (add_thread(re, next, 0, t, len, pos + k))
                return true;
        }
        next->count = 0;
        for (int i = 0; i < now->count; i++) {
            const struct inst *in = &re->prog[now->dense[i]];
            if (((in->op == OP_CHAR && in->x == c) || (in->op == OP_CLASS && in_class(re, in, c))) &&
                add_thread(re, next, now->dense[i] + 1, t, len, pos + width))
                return true;
        }
        struct thread_list *swap = now;
        now = next;
        next = swap;
        pos += width;
    }
}
