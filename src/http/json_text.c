// SPDX-License-Identifier: MIT
//
// The JSON writer of json_text.h: appending raw text, and strings escaped
// as FastAPI escapes them.  It knows nothing of HTTP but the UTF-8 repair
// of parse.h, so a client can use it as the server does.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../alloc.h"
#include "json_text.h"
#include "parse.h"

void cio__jt_raw(struct cio__jtext *j, const char *s, size_t n) {
  if (!j->p) return;
  if (j->n + n + 1 > j->cap) {
    size_t cap = (j->n + n + 1) * 2;
    char *p = cio__realloc(j->p, cap);
    if (!p) {
      free(j->p);
      j->p = NULL;
      return;
    }
    j->p = p;
    j->cap = cap;
  }
  memcpy(j->p + j->n, s, n);
  j->n += n;
  j->p[j->n] = '\0';
}

void cio__jt_lit(struct cio__jtext *j, const char *s) { cio__jt_raw(j, s, strlen(s)); }

void cio__jt_str(struct cio__jtext *j, const char *s, size_t n) {
  cio__jt_raw(j, "\"", 1);
  cio__http_text t = {s, n, 0, false, false};
  char c[4];
  size_t k;
  while ((k = cio__http_text_next(&t, c))) {
    unsigned char b = (unsigned char)c[0];
    if (k > 1 || (b >= 0x20 && b != '"' && b != '\\')) {
      cio__jt_raw(j, c, k);
      continue;
    }
    char esc[8];
    const char *short_form = b == '"'    ? "\\\""
                             : b == '\\' ? "\\\\"
                             : b == '\n' ? "\\n"
                             : b == '\r' ? "\\r"
                             : b == '\t' ? "\\t"
                             : b == '\b' ? "\\b"
                             : b == '\f' ? "\\f"
                                         : NULL;
    if (!short_form) snprintf(esc, sizeof esc, "\\u%04x", b);
    cio__jt_lit(j, short_form ? short_form : esc);
  }
  cio__jt_raw(j, "\"", 1);
}

struct cio__jtext cio__jt_new(size_t hint) {
  struct cio__jtext j = {cio__malloc(hint + 1), 0, hint + 1};
  if (j.p) j.p[0] = '\0';
  return j;
}

// Python's repr of a float: the shortest digits that read back the same,
// positional from 1e-4 up to 1e16 (with ".0" for a whole number), else
// d.ddde+XX.  A NaN or an infinity, which JSON has no word for, is null.
void cio__jt_float(struct cio__jtext *j, double v) {
  if (v != v || v - v != 0) {
    cio__jt_lit(j, "null");
    return;
  }
  char e[40];
  int prec = 1;
  for (; prec < 17; prec++) {
    snprintf(e, sizeof e, "%.*e", prec - 1, v);
    if (strtod(e, NULL) == v) break;
  }
  snprintf(e, sizeof e, "%.*e", prec - 1, v);
  // e is "-d.ddde+XX": its digits and its exponent.
  char digits[24] = {'0'};
  size_t nd = 0;
  const char *p = e;
  bool neg = *p == '-';
  if (neg) p++;
  for (; *p && *p != 'e'; p++)
    if (*p != '.') digits[nd++] = *p;
  int exp = (int)strtol(p + 1, NULL, 10);
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  char out[48];
  size_t n = 0;
  if (neg) out[n++] = '-';
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out[n++] = '0';
      out[n++] = '.';
      for (int k = -1; k > exp; k--) out[n++] = '0';
      for (size_t k = 0; k < nd; k++) out[n++] = digits[k];
    } else {
      for (int k = 0; k <= exp; k++) out[n++] = (char)((size_t)k < nd ? digits[k] : '0');
      out[n++] = '.';
      if ((size_t)exp + 1 < nd)
        for (size_t k = (size_t)exp + 1; k < nd; k++) out[n++] = digits[k];
      else
        out[n++] = '0';
    }
  } else {
    out[n++] = digits[0];
    if (nd > 1) {
      out[n++] = '.';
      for (size_t k = 1; k < nd; k++) out[n++] = digits[k];
    }
    n += (size_t)snprintf(out + n, sizeof out - n, "e%c%02d", exp < 0 ? '-' : '+',
                          exp < 0 ? -exp : exp);
  }
  cio__jt_raw(j, out, n);
}
