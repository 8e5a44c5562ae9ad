/* RE2-syntax regular expressions: an iterative parser that compiles straight
 * into a Thompson program (the instructions of a Pike VM), and a lazy DFA
 * that runs it. Syntax and limits follow RE2 (Go's regexp/syntax is the
 * same grammar), so patterns written for Envoy behave the same here; see
 * regex.h for the guarantees. */
#include "regex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    MAX_RANGES = 4000,  /* character class ranges of the whole pattern */
    MAX_NESTING = 250,  /* open groups; the parser keeps them in an array */
    MAX_REPEAT = 1000,  /* RE2's cap on {n,m} and on nested counts multiplied */
    RUNE_MAX = 0x10FFFF,
    /* Text that RE2 matches only by a class holding all of U+0080..U+10FFFF
     * (see decode_utf8): one more rune past RUNE_MAX, which such a class
     * includes. */
    LOOSE_RUNE = RUNE_MAX + 1,
    NOT_A_RUNE = -1,    /* an invalid UTF-8 byte of the text: matches nothing */
    /* Sizes past the budget are still counted, to be reported, up to this. */
    COUNT_CAP = 1 << 28,
    LONG_S = 0x17F,     /* with s and S, the case orbit RE2 gives s */
    KELVIN_SIGN = 0x212A, /* with k and K */
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

/* What an assertion sees around a position: bits for the rune before it
 * (CTX_*) and for the rune after it (the same bits, or AT_END). */
enum { CTX_START = 1, CTX_WORD = 2, CTX_NEWLINE = 4, AT_END = 8 };

/* The lazy DFA: each state is a set of program counters still to be
 * followed, plus what precedes the position (CTX_*). Its transitions, one
 * per rune class, are filled in as text needs them; states live in one
 * block of at most DFA_BUDGET bytes, and when it is full they are all
 * dropped and rebuilt from where the search is. */
enum {
    DFA_BUDGET = HFI_REGEX_DFA_BYTES,
    DFA_MAX_STATES = 256,
    DFA_TABLE = 512, /* hash slots, twice the states */
    /* Transition codes: 0 not yet known, then these, then a state's offset
     * in the block / 4 + NEXT_STATE, so a step needs no other lookup. */
    TO_MATCH = 1,
    TO_DEAD = 2,
    NEXT_STATE = 3,
};

struct dstate {
    uint32_t hash;
    uint16_t count;   /* program counters, after the transitions */
    uint8_t ctx;
    uint8_t end_match; /* 0 not yet known, else 1 + whether text may end here */
    uint16_t next[];  /* one per rune class, then the counters */
};

struct dfa {
    unsigned char *block;
    uint32_t used, size, max_size;
    int states, start;
    uint32_t generation; /* counts resets */
    uint32_t offsets[DFA_MAX_STATES];
    uint16_t table[DFA_TABLE];
};

struct hfi_regex {
    const struct inst *prog;
    const struct range *ranges;
    /* Runes split into classes that no instruction or assertion tells
     * apart: class k >= 1 starts at bounds[k - 1]; class 0 is NOT_A_RUNE. */
    const int32_t *bounds;
    int ninsts, nbounds;
    bool anchored;    /* every match starts at offset 0 */
    bool inner_match; /* matches the empty text inside a multibyte rune */
    uint16_t byte_class[128];
    struct thread_list list;
    uint16_t *stack, *gathered;
    unsigned char *marks;
    struct dfa *dfa;
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
    /* Past the budget nothing is stored any more, only counted (ninsts). */
    int counting;
    int segment; /* first range of the class (or negated group) being built */
    const char *error;
    size_t error_offset;
    struct frame frames[MAX_NESTING];
    struct inst prog[HFI_REGEX_MAX_PROGRAM];
    struct range ranges[MAX_RANGES];
    uint16_t pending[HFI_REGEX_MAX_PROGRAM]; /* for skippable() */
    unsigned char seen[HFI_REGEX_MAX_PROGRAM];
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

/* UTF-8 as RE2 reads text. RE2 matches bytes against the UTF-8 encodings of
 * a pattern's runes (re2/compile.cc), surrogates included. A class holding
 * all of U+0080..U+10FFFF (., [^a], \D...) is compiled loosely instead
 * (Compiler::Add_80_10ffff): any lead byte C2-F4 followed by its count of
 * continuation bytes, so the overlong forms E0 80-9F xx and F0 80-8F xx xx
 * and the values past U+10FFFF in F4 90-BF xx xx are one LOOSE_RUNE, which
 * only such a class matches. Anything else is NOT_A_RUNE, one byte wide,
 * and matches nothing. */
static size_t decode_utf8(const uint8_t *s, size_t len, int32_t *out)
{
    static const int32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t need = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 1;
    int32_t c = s[0] & (0x7F >> need);
    *out = s[0];
    if (s[0] < 0x80)
        return 1;
    *out = NOT_A_RUNE;
    if (need == 1 || s[0] > 0xF4 || need > len)
        return 1;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 1;
        c = c << 6 | (s[i] & 0x3F);
    }
    *out = c < smallest[need] || c > RUNE_MAX ? LOOSE_RUNE : c;
    return need;
}

/* A pattern must be UTF-8 as RE2 requires of patterns: strict, except that
 * RE2 takes surrogates too. */
static int next_rune(struct parser *p, int32_t *out)
{
    size_t at = p->pos;
    p->pos += decode_utf8(p->s + at, p->len - at, out);
    return (*out >= 0 && *out <= RUNE_MAX) || fail(p, at, "invalid UTF-8");
}

/* ---- program building ---- */

/* Makes room for n more instructions at the end; false once the program is
 * over the budget (the last slot is for MATCH), from when on it is only
 * counted. */
static int grow(struct parser *p, int n)
{
    if (!p->counting && p->ninsts + n < HFI_REGEX_MAX_PROGRAM)
        return 1;
    p->counting = 1;
    p->ninsts = p->ninsts < COUNT_CAP - n ? p->ninsts + n : COUNT_CAP;
    return 0;
}

static void emit(struct parser *p, int op, int x, int y)
{
    if (grow(p, 1))
        p->prog[p->ninsts++] = (struct inst){op, x, y};
}

static void insert(struct parser *p, int at, int op, int x, int y)
{
    if (grow(p, 1)) {
        memmove(&p->prog[at + 1], &p->prog[at], (size_t)(p->ninsts - at) * sizeof *p->prog);
        p->prog[at] = (struct inst){op, x, y};
        p->ninsts++;
    }
}

static void copy(struct parser *p, int start, int len)
{
    if (grow(p, len)) {
        memcpy(&p->prog[p->ninsts], &p->prog[start], (size_t)len * sizeof *p->prog);
        p->ninsts += len;
    }
}

static struct frame *top(struct parser *p)
{
    return &p->frames[p->depth];
}

/* Whether the code at [from, to) can match the empty text without asserting
 * anything, following only SPLIT and JMP. */
static int skippable(struct parser *p, int from, int to)
{
    if (p->counting || from < 0 || from >= to)
        return 0;
    memset(p->seen + from, 0, (size_t)(to - from + 1));
    int n = 0;
    p->pending[n++] = (uint16_t)from;
    while (n > 0) {
        int pc = p->pending[--n];
        const struct inst *in = &p->prog[pc];
        int targets[2] = {pc + in->x, pc + in->y};
        if (pc == to)
            return 1;
        for (int k = 0; k < (in->op == OP_SPLIT ? 2 : in->op == OP_JMP); k++)
            if (!p->seen[targets[k]]) {
                p->seen[targets[k]] = 1;
                p->pending[n++] = (uint16_t)targets[k];
            }
    }
    return 0;
}

/* A search for A B, where A is skippable, finds a match exactly where a
 * search for B does, and likewise for A B where B is. So in a top-level
 * alternative a skippable first piece is dropped when the next begins, and
 * a skippable last piece when the alternative ends: .{0,999}X is searched
 * as X. Pieces are only ever dropped whole, before anything refers to them. */
static void drop_skippable_first(struct parser *p)
{
    struct frame *f = &p->frames[0];
    if (p->depth == 0 && f->atom_start == f->alt_start && skippable(p, f->alt_start, p->ninsts))
        p->ninsts = f->alt_start;
}

static void drop_skippable_last(struct parser *p)
{
    struct frame *f = &p->frames[0];
    if (f->atom_start >= f->alt_start && skippable(p, f->atom_start, p->ninsts))
        p->ninsts = f->atom_start;
}

static void begin_atom(struct parser *p)
{
    drop_skippable_first(p);
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
        insert(p, start, OP_SPLIT, 1, len + (max < 0 ? 2 : 1));
        if (max < 0) {
            emit(p, OP_JMP, -(len + 1), 0);
            return 1;
        }
        start++;
        max--;
    } else {
        for (int i = 1; i < min; i++)
            copy(p, start, len);
        if (max < 0) { /* x+ is L: x; SPLIT L, out */
            emit(p, OP_SPLIT, -len, 1);
            return 1;
        }
        max -= min;
    }
    for (; max > 0; max--) {
        emit(p, OP_SPLIT, 1, len + 1);
        copy(p, start, len);
    }
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

/* Adds the runes of [lo, hi] whose case variants are among ASCII letters
 * (the rest is refused below): those variants, as RE2's simple case folding
 * orbits give them, KELVIN SIGN with k and LONG S with s included. */
static int add_ascii_variants(struct parser *p, int32_t lo, int32_t hi)
{
    static const int32_t orbits[][3] = {{'k', 'K', KELVIN_SIGN}, {'s', 'S', LONG_S}};
    for (int shift = -32; shift <= 32; shift += 64) {
        int32_t first = shift < 0 ? 'a' : 'A', a = lo > first ? lo : first, b = hi < first + 25 ? hi : first + 25;
        if (a <= b && !add_range(p, a + shift, b + shift))
            return 0;
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            if (orbits[i][j] >= lo && orbits[i][j] <= hi)
                for (int k = 0; k < 3; k++)
                    if (!add_range(p, orbits[i][k], orbits[i][k]))
                        return 0;
    return 1;
}

/* Adds [lo, hi], and under (?i) its case variants. (?i) folds the ASCII
 * letters, whose orbits hold KELVIN SIGN and LONG S too; any other
 * non-ASCII rune is refused under (?i): RE2 folds it by Unicode's tables,
 * which the module does not carry. */
static int add_folded(struct parser *p, int32_t lo, int32_t hi)
{
    if (!add_range(p, lo, hi))
        return 0;
    if (!(p->flags & FOLD_CASE))
        return 1;
    int32_t non_ascii = lo > 0x80 ? lo : 0x80;
    if (hi >= 0x80 && !(non_ascii == hi && (hi == KELVIN_SIGN || hi == LONG_S)))
        return fail(p, p->token, "(?i) folds ASCII letters only: write other letters' cases out, as in [\\x{e9}\\x{c9}]");
    return add_ascii_variants(p, lo, hi);
}

/* Under (?i) RE2 negates the case-closed set, so (?i)\W excludes KELVIN SIGN. */
static int add_named_class(struct parser *p, const struct named_class *c, int negated)
{
    int outer = p->segment;
    p->segment = p->nranges;
    for (int i = 0; i < c->count; i++)
        if (!add_folded(p, (uint8_t)c->ranges[2 * i], (uint8_t)c->ranges[2 * i + 1]))
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
        emit(p, OP_CHAR, p->ranges[from].lo, 0);
        return 1;
    }
    for (int i = from; i < p->nranges; i++)
        if (p->ranges[i].lo <= 0x80 && p->ranges[i].hi == RUNE_MAX)
            p->ranges[i].hi = LOOSE_RUNE; /* see decode_utf8 */
    emit(p, OP_CLASS, from, count);
    return 1;
}

static int emit_literal(struct parser *p, int32_t c)
{
    begin_atom(p);
    begin_class(p);
    return add_folded(p, c, c) && end_class(p, 0);
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
    emit(p, OP_ASSERT, kind, 0);
    return 1;
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
        if (!add_folded(p, lo, hi))
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
    drop_skippable_first(p);
    p->depth++;
    *top(p) = (struct frame){p->ninsts, p->ninsts, -1, -1, 1, 1, outer_flags, at};
    return 1;
}

static void end_alternation(struct parser *p, struct frame *f)
{
    for (int j = p->counting ? -1 : f->pending_jmps; j >= 0;) {
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
    if (p->depth == 0)
        drop_skippable_last(p);
    insert(p, f->alt_start, OP_SPLIT, 1, p->ninsts + 2 - f->alt_start);
    emit(p, OP_JMP, f->pending_jmps, 0);
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
    drop_skippable_last(p);
    end_alternation(p, top(p));
    if (!p->counting)
        p->prog[p->ninsts] = (struct inst){OP_MATCH, 0, 0};
    p->ninsts++;
    return !p->counting;
}

static void append(char *err, size_t size, size_t *n, const char *text)
{
    while (*text && *n + 1 < size)
        err[(*n)++] = *text++;
    err[*n] = '\0';
}

static void append_number(char *err, size_t size, size_t *n, size_t value)
{
    char digits[24], *d = digits + sizeof digits - 1;
    *d = '\0';
    do
        *--d = (char)('0' + value % 10);
    while ((value /= 10) > 0);
    append(err, size, n, d);
}

/* p NULL: out of memory before parsing. */
static void write_error(const struct parser *p, char *err, size_t size)
{
    size_t n = 0;
    if (!size)
        return;
    err[0] = '\0';
    if (p && p->counting) {
        append(err, size, &n, "compiles to ");
        append(err, size, &n, p->ninsts == COUNT_CAP ? "over " : "");
        append_number(err, size, &n, (size_t)p->ninsts);
        append(err, size, &n, " instructions, over the budget of ");
        append_number(err, size, &n, HFI_REGEX_MAX_PROGRAM);
        return;
    }
    append(err, size, &n, "invalid regex at offset ");
    append_number(err, size, &n, p ? p->error_offset : 0);
    append(err, size, &n, ": ");
    append(err, size, &n, p && p->error ? p->error : "out of memory");
}

static void sort_ints(int32_t *v, int n)
{
    for (int gap = n / 2; gap > 0; gap /= 2)
        for (int i = gap; i < n; i++)
            for (int j = i; j >= gap && v[j - gap] > v[j]; j -= gap) {
                int32_t t = v[j];
                v[j] = v[j - gap];
                v[j - gap] = t;
            }
}

/* Class bounds every program has: 0 and 0x80 (ASCII has its own table), \n
 * and the word bytes (assertions), LOOSE_RUNE. */
static const int32_t fixed_bounds[] = {0,   0x80,    '\n', '\n' + 1, '0',        '9' + 1,       'A',
                                       'Z' + 1, '_', '_' + 1, 'a',      'z' + 1, LOOSE_RUNE, LOOSE_RUNE + 1};
enum { FIXED_BOUNDS = sizeof fixed_bounds / sizeof *fixed_bounds };

/* The first rune of each class: every place where some instruction or
 * assertion could start to answer differently. Returns the count. */
static int class_bounds(const struct parser *p, int32_t *out)
{
    int n = 0;
    for (int i = 0; i < FIXED_BOUNDS; i++)
        out[n++] = fixed_bounds[i];
    for (int pc = 0; pc < p->ninsts; pc++)
        if (p->prog[pc].op == OP_CHAR) {
            out[n++] = p->prog[pc].x;
            out[n++] = p->prog[pc].x + 1;
        }
    for (int r = 0; r < p->nranges; r++) { /* a class's copies share its ranges */
        out[n++] = p->ranges[r].lo;
        out[n++] = p->ranges[r].hi + 1;
    }
    sort_ints(out, n);
    int kept = 0;
    for (int i = 0; i < n; i++)
        if ((!kept || out[i] != out[kept - 1]) && out[i] <= LOOSE_RUNE)
            out[kept++] = out[i];
    return kept;
}

static int class_of(const struct hfi_regex *re, int32_t c)
{
    int lo = 0, hi = re->nbounds; /* the count of bounds <= c */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (re->bounds[mid] <= c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int first_rune(const struct hfi_regex *re, int cls)
{
    return cls ? re->bounds[cls - 1] : NOT_A_RUNE;
}

static unsigned rune_context(int32_t c)
{
    return (c >= 0 && c < 0x80 && is_word_byte(c) ? CTX_WORD : 0) | (c == '\n' ? CTX_NEWLINE : 0);
}

static size_t state_size(const struct hfi_regex *re, int count)
{
    return (sizeof(struct dstate) + (size_t)(re->nbounds + 1 + count) * sizeof(uint16_t) + 3) & ~(size_t)3;
}

static int closure(const struct hfi_regex *re, const uint16_t *set, int count, unsigned ctx, unsigned next);

int hfi_regex_compile(const char *pattern, size_t len, struct hfi_regex **out, char *err, size_t err_size)
{
    *out = NULL;
    struct parser *p = malloc(sizeof *p);
    if (!p) {
        write_error(NULL, err, err_size);
        return -1;
    }
    memset(p, 0, offsetof(struct parser, frames));
    p->s = (const uint8_t *)pattern;
    p->len = len;
    p->frames[0] = (struct frame){0, 0, -1, -1, 1, 1, 0, 0};
    int32_t *bounds = NULL;
    struct hfi_regex *re = NULL;
    if (!parse(p))
        goto failed;
    /* One block: the header, the DFA's, the program, the ranges, the class
     * bounds, then uint16 arrays: the thread list (dense, sparse), the stack,
     * a gathered set, and a byte per instruction to sort sets. */
    size_t n = (size_t)p->ninsts, m = (size_t)p->nranges;
    bounds = malloc((2 * (n + m) + FIXED_BOUNDS) * sizeof *bounds);
    if (!bounds)
        goto failed;
    size_t nb = (size_t)class_bounds(p, bounds);
    re = calloc(1, sizeof *re + n * sizeof(struct inst) + m * sizeof(struct range) + nb * sizeof(int32_t) +
                       4 * n * sizeof(uint16_t) + n + sizeof(struct dfa));
    if (!re)
        goto failed;
    struct dfa *d = (struct dfa *)(re + 1);
    struct inst *prog = (struct inst *)(d + 1);
    struct range *ranges = (struct range *)(prog + n);
    int32_t *class_start = (int32_t *)(ranges + m);
    uint16_t *scratch = (uint16_t *)(class_start + nb);
    memcpy(prog, p->prog, n * sizeof *prog);
    memcpy(ranges, p->ranges, m * sizeof *ranges);
    memcpy(class_start, bounds, nb * sizeof *bounds);
    re->prog = prog;
    re->ranges = ranges;
    re->bounds = class_start;
    re->ninsts = (int)n;
    re->nbounds = (int)nb;
    re->list.dense = scratch;
    re->list.sparse = scratch + n;
    re->stack = scratch + 2 * n;
    re->gathered = scratch + 3 * n;
    re->marks = (unsigned char *)(scratch + 4 * n);
    re->dfa = d;
    for (int b = 0; b < 128; b++)
        re->byte_class[b] = (uint16_t)class_of(re, b);
    re->anchored = prog[0].op == OP_ASSERT && prog[0].x == BEGIN_TEXT;
    static const uint16_t start = 0;
    re->inner_match = closure(re, &start, 1, 0, 0);
    /* Room for two of the largest states at least, so a search always has
     * a state to go on from and never needs more memory than this. */
    d->size = (uint32_t)(2 * state_size(re, (int)n));
    d->max_size = d->size > DFA_BUDGET ? d->size : DFA_BUDGET;
    d->start = -1;
    d->block = malloc(d->size);
    if (!d->block)
        goto failed;
    free(bounds);
    free(p);
    *out = re;
    return 0;
failed:
    write_error(p, err, err_size);
    free(bounds);
    free(re);
    free(p);
    return -1;
}

void hfi_regex_free(struct hfi_regex *re)
{
    if (re)
        free(re->dfa->block);
    free(re);
}

/* ---- matching: a lazy DFA over the program ---- */

static int assertion_holds(int kind, unsigned ctx, unsigned next)
{
    switch (kind) {
    case BEGIN_TEXT:
        return ctx & CTX_START;
    case END_TEXT:
        return next & AT_END;
    case BEGIN_LINE:
        return ctx & (CTX_START | CTX_NEWLINE);
    case END_LINE:
        return next & (AT_END | CTX_NEWLINE);
    default: /* \b and \B look at ASCII word bytes, as in RE2 */
        return (!(ctx & CTX_WORD) != !(next & CTX_WORD)) == (kind == WORD_BOUNDARY);
    }
}

static void push_thread(const struct hfi_regex *re, int *depth, int pc)
{
    struct thread_list *l = (struct thread_list *)&re->list;
    uint16_t i = l->sparse[pc];
    if (i < l->count && l->dense[i] == pc)
        return;
    l->sparse[pc] = (uint16_t)l->count;
    l->dense[l->count++] = (uint16_t)pc;
    re->stack[(*depth)++] = (uint16_t)pc;
}

/* Fills re->list with what set reaches without consuming text, between a
 * rune described by ctx and one described by next; true when that includes
 * MATCH. Each pc enters the list once, which also bounds the stack. */
static int closure(const struct hfi_regex *re, const uint16_t *set, int count, unsigned ctx, unsigned next)
{
    int depth = 0;
    ((struct thread_list *)&re->list)->count = 0;
    for (int k = 0; k < count; k++)
        push_thread(re, &depth, set[k]);
    while (depth > 0) {
        int pc = re->stack[--depth];
        const struct inst *in = &re->prog[pc];
        switch (in->op) {
        case OP_MATCH:
            return 1;
        case OP_SPLIT:
            push_thread(re, &depth, pc + in->y);
            /* fall through */
        case OP_JMP:
            push_thread(re, &depth, pc + in->x);
            break;
        case OP_ASSERT:
            if (assertion_holds(in->x, ctx, next))
                push_thread(re, &depth, pc + 1);
            break;
        }
    }
    return 0;
}

static int consumes(const struct hfi_regex *re, const struct inst *in, int32_t c)
{
    if (in->op == OP_CHAR)
        return in->x == c;
    for (const struct range *r = &re->ranges[in->x], *end = r + in->y; in->op == OP_CLASS && r < end && c >= r->lo; r++)
        if (c <= r->hi)
            return 1;
    return 0;
}

static struct dstate *state_at(const struct dfa *d, int index)
{
    return (struct dstate *)(d->block + d->offsets[index]);
}

/* A state by its place in the block (a transition code less NEXT_STATE). */
static struct dstate *state_in(const struct dfa *d, int place)
{
    return (struct dstate *)(d->block + 4 * (size_t)place);
}

static void dfa_reset(struct dfa *d)
{
    d->states = 0;
    d->used = 0;
    d->start = -1;
    d->generation++;
    memset(d->table, 0, sizeof d->table);
}

/* The state for (set, ctx), added if new, by its place in the block. When
 * the block or the table is full, every state is dropped first (the block
 * always holds one more). */
static int find_or_add(const struct hfi_regex *re, const uint16_t *set, int count, unsigned ctx)
{
    struct dfa *d = re->dfa;
    uint32_t hash = 2166136261u ^ ctx;
    for (int k = 0; k < count; k++)
        hash = (hash ^ set[k]) * 16777619u;
    unsigned slot = hash;
    for (;; slot++) {
        uint16_t at = d->table[slot % DFA_TABLE];
        if (!at)
            break;
        struct dstate *s = state_at(d, at - 1);
        if (s->hash == hash && s->count == count && s->ctx == ctx &&
            !memcmp(s->next + re->nbounds + 1, set, (size_t)count * sizeof *set))
            return (int)(d->offsets[at - 1] / 4);
    }
    size_t size = state_size(re, count);
    if (d->size - d->used < size && d->size < d->max_size) {
        uint32_t grown = d->size * 2 < d->max_size ? d->size * 2 : d->max_size;
        unsigned char *block = realloc(d->block, grown);
        if (block) {
            d->block = block;
            d->size = grown;
        }
    }
    if (d->size - d->used < size || d->states == DFA_MAX_STATES) {
        dfa_reset(d);
        slot = hash;
        while (d->table[slot % DFA_TABLE])
            slot++;
    }
    struct dstate *s = (struct dstate *)(d->block + d->used);
    memset(s, 0, size);
    s->hash = hash;
    s->count = (uint16_t)count;
    s->ctx = (uint8_t)ctx;
    memcpy(s->next + re->nbounds + 1, set, (size_t)count * sizeof *set);
    d->offsets[d->states] = d->used;
    d->used += (uint32_t)size;
    d->table[slot % DFA_TABLE] = (uint16_t)++d->states;
    return (int)(d->offsets[d->states - 1] / 4);
}

/* The transition of state `from` on a rune of class cls, worked out from
 * the program and remembered: TO_MATCH, TO_DEAD or a state + NEXT_STATE. */
static int transition(const struct hfi_regex *re, int from, int cls)
{
    struct dfa *d = re->dfa;
    const struct dstate *s = state_in(d, from);
    int32_t c = first_rune(re, cls);
    unsigned next_ctx = rune_context(c);
    if (closure(re, s->next + re->nbounds + 1, s->count, s->ctx, next_ctx)) {
        ((struct dstate *)s)->next[cls] = TO_MATCH;
        return TO_MATCH;
    }
    /* The next set, in pc order so that equal sets are equal states. */
    memset(re->marks, 0, (size_t)re->ninsts);
    re->marks[0] = !re->anchored; /* a search starts a match at every rune */
    for (int k = 0; k < re->list.count; k++) {
        int pc = re->list.dense[k];
        if (consumes(re, &re->prog[pc], c))
            re->marks[pc + 1] = 1;
    }
    int count = 0;
    for (int pc = 0; pc < re->ninsts; pc++)
        if (re->marks[pc])
            re->gathered[count++] = (uint16_t)pc;
    int code = TO_DEAD;
    if (count) {
        uint32_t generation = d->generation;
        code = find_or_add(re, re->gathered, count, next_ctx) + NEXT_STATE;
        if (d->generation != generation) /* dropped everything: `from` is gone */
            return code;
    }
    state_in(d, from)->next[cls] = (uint16_t)code;
    return code;
}

bool hfi_regex_search(const struct hfi_regex *re, const char *text, size_t len)
{
    const uint8_t *t = (const uint8_t *)text;
    struct dfa *d = re->dfa;
    static const uint16_t start = 0;
    if (d->start < 0)
        d->start = find_or_add(re, &start, 1, CTX_START);
    int state = d->start;
    const unsigned char *block = d->block; /* moves only when a transition is added */
    for (size_t pos = 0; pos < len;) {
        int cls, code;
        if (t[pos] < 0x80) {
            cls = re->byte_class[t[pos++]];
        } else {
            int32_t c;
            size_t width = decode_utf8(t + pos, len - pos, &c);
            /* RE2 starts a match at every byte, so an empty match (\B) may
             * sit inside a multibyte rune. */
            if (width > 1 && re->inner_match)
                return true;
            cls = class_of(re, c);
            pos += width;
        }
        code = ((const struct dstate *)(block + 4 * (size_t)state))->next[cls];
        if (code < NEXT_STATE) {
            if (!code) {
                code = transition(re, state, cls);
                block = d->block;
            }
            if (code < NEXT_STATE)
                return code == TO_MATCH;
        }
        state = code - NEXT_STATE;
    }
    struct dstate *s = state_in(d, state);
    if (!s->end_match)
        s->end_match = (uint8_t)(1 + closure(re, s->next + re->nbounds + 1, s->count, s->ctx, AT_END));
    return s->end_match == 2;
}
