// SPDX-License-Identifier: MIT
//
// Values between C and PostgreSQL's wire formats.  Parameters: numbers,
// booleans, bytea, uuid and timestamps in the binary format (big-endian),
// text-like types as text.  Results come in the binary format for every
// column (libpq asks for one format for all); the getters read the types
// <cio/pg.h> lists and turn numeric (base-10000 digits) and uuid into text.
// Other types are CIO_PG_T_OTHER: a query casts them to text.
//
// Timestamps: PostgreSQL counts microseconds since 2000-01-01; cio's API
// counts from the Unix epoch, 946,684,800 s earlier.  'infinity' and
// '-infinity' are INT64_MAX and INT64_MIN on both sides.
#include <endian.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../alloc.h"
#include "pg.h"

// Type OIDs (PostgreSQL's catalog, pg_type.dat).
enum {
  OID_BOOL = 16,
  OID_BYTEA = 17,
  OID_CHAR = 18,
  OID_NAME = 19,
  OID_INT8 = 20,
  OID_INT2 = 21,
  OID_INT4 = 23,
  OID_TEXT = 25,
  OID_OID = 26,
  OID_JSON = 114,
  OID_FLOAT4 = 700,
  OID_FLOAT8 = 701,
  OID_BPCHAR = 1042,
  OID_VARCHAR = 1043,
  OID_TIMESTAMP = 1114,
  OID_TIMESTAMPTZ = 1184,
  OID_NUMERIC = 1700,
  OID_UUID = 2950,
  OID_JSONB = 3802,
};

#define EPOCH_SHIFT_US INT64_C(946684800000000) // 2000-01-01 - 1970-01-01

// A text made for a result (numeric, uuid, integers), freed with it.
typedef struct made_text {
  struct made_text *next; // the result's list
  char s[];               // the text
} made_text;

struct cio_pg_result {
  PGresult *res;    // libpq's result
  made_text *texts; // texts made by cio_pg_get_text()
};

// ---------------------------------------------------------------- parameters

static Oid oid_of(cio_pg_type t) {
  static const Oid oids[] = {
      [CIO_PG_T_NULL] = 0,
      [CIO_PG_T_BOOL] = OID_BOOL,
      [CIO_PG_T_INT2] = OID_INT2,
      [CIO_PG_T_INT4] = OID_INT4,
      [CIO_PG_T_INT8] = OID_INT8,
      [CIO_PG_T_FLOAT4] = OID_FLOAT4,
      [CIO_PG_T_FLOAT8] = OID_FLOAT8,
      [CIO_PG_T_TEXT] = OID_TEXT,
      [CIO_PG_T_BYTEA] = OID_BYTEA,
      [CIO_PG_T_UUID] = OID_UUID,
      [CIO_PG_T_TIMESTAMP] = OID_TIMESTAMP,
      [CIO_PG_T_TIMESTAMPTZ] = OID_TIMESTAMPTZ,
      [CIO_PG_T_NUMERIC] = OID_NUMERIC,
      [CIO_PG_T_JSON] = OID_JSON,
      [CIO_PG_T_JSONB] = OID_JSONB,
  };
  return oids[t];
}

// Microseconds since the Unix epoch as PostgreSQL's; -EINVAL if out of its range.
static int timestamp_to_pg(int64_t unix_us, int64_t *out) {
  if (unix_us == INT64_MAX || unix_us == INT64_MIN) {
    *out = unix_us;
    return 0;
  }
  if (unix_us < INT64_MIN + EPOCH_SHIFT_US + 1) return -EINVAL;
  *out = unix_us - EPOCH_SHIFT_US;
  return 0;
}

// Puts parameter i's value into p (the binary ones into p->bytes).
static int encode_one(const cio_pg_param *in, int i, cio__pg_params *p) {
  unsigned char *b = p->bytes + 8 * i;
  // CIO_PG_T_OTHER names result columns only, and a value beyond the enum
  // is no type: both refused before the table of types is read.
  if ((unsigned)in->type >= CIO_PG_T_OTHER) return -EINVAL;
  p->types[i] = oid_of(in->type);
  p->formats[i] = 1;
  p->values[i] = (const char *)b;
  uint64_t u;
  switch (in->type) {
  case CIO_PG_T_NULL: p->values[i] = NULL; return 0;
  case CIO_PG_T_BOOL:
    b[0] = in->b ? 1 : 0;
    p->lengths[i] = 1;
    return 0;
  case CIO_PG_T_INT2: {
    if (in->i < INT16_MIN || in->i > INT16_MAX) return -EINVAL;
    uint16_t v = htobe16((uint16_t)(int16_t)in->i);
    memcpy(b, &v, 2);
    p->lengths[i] = 2;
    return 0;
  }
  case CIO_PG_T_INT4: {
    if (in->i < INT32_MIN || in->i > INT32_MAX) return -EINVAL;
    uint32_t v = htobe32((uint32_t)(int32_t)in->i);
    memcpy(b, &v, 4);
    p->lengths[i] = 4;
    return 0;
  }
  case CIO_PG_T_INT8: u = (uint64_t)in->i; break;
  case CIO_PG_T_TIMESTAMP:
  case CIO_PG_T_TIMESTAMPTZ: {
    int64_t pg;
    if (timestamp_to_pg(in->i, &pg) < 0) return -EINVAL;
    u = (uint64_t)pg;
    break;
  }
  case CIO_PG_T_FLOAT4: {
    float f = (float)in->f;
    uint32_t v;
    memcpy(&v, &f, 4);
    v = htobe32(v);
    memcpy(b, &v, 4);
    p->lengths[i] = 4;
    return 0;
  }
  case CIO_PG_T_FLOAT8: memcpy(&u, &in->f, 8); break;
  case CIO_PG_T_BYTEA:
  case CIO_PG_T_UUID:
    if (in->type == CIO_PG_T_UUID && in->p && in->len != 16 && in->len != 0) return -EINVAL;
    if (in->len > INT32_MAX) return -EINVAL;
    p->values[i] = in->p;
    p->lengths[i] = in->type == CIO_PG_T_UUID ? 16 : (int)in->len;
    return 0;
  case CIO_PG_T_TEXT:
  case CIO_PG_T_NUMERIC:
  case CIO_PG_T_JSON:
  case CIO_PG_T_JSONB:
    p->values[i] = in->s;
    p->formats[i] = 0;
    return 0;
  default: return -EINVAL;
  }
  u = htobe64(u);
  memcpy(b, &u, 8);
  p->lengths[i] = 8;
  return 0;
}

int cio__pg_params_encode(const cio_pg_param *params, size_t n, cio__pg_params **out) {
  if (n > 65535 || (n && !params)) return -EINVAL;
  size_t size = sizeof(cio__pg_params) + n * (sizeof(Oid) + sizeof(char *) + 2 * sizeof(int) + 8);
  cio__pg_params *p = cio__malloc(size);
  if (!p) return -ENOMEM;
  p->n = (int)n;
  p->values = (const char **)(p + 1);
  p->types = (Oid *)(p->values + n);
  p->lengths = (int *)(p->types + n);
  p->formats = p->lengths + n;
  p->bytes = (unsigned char *)(p->formats + n);
  for (size_t i = 0; i < n; i++) {
    int rc = encode_one(&params[i], (int)i, p);
    if (rc < 0) {
      free(p);
      return rc;
    }
  }
  *out = p;
  return 0;
}

// ---------------------------------------------------------------- results

// The wrapper lives in the result's own memory (PQresultAlloc: a bump in a
// block libpq holds anyway) and goes with it: a stream's row costs no
// allocation of cio's.
cio_pg_result *cio__pg_result_wrap(PGresult *res) {
  cio_pg_result *r = PQresultAlloc(res, sizeof *r);
  if (!r) return NULL;
  r->res = res;
  r->texts = NULL;
  return r;
}

void cio_pg_result_free(cio_pg_result *r) {
  if (!r) return;
  made_text *t = r->texts;
  PQclear(r->res); // r too
  while (t) {
    made_text *next = t->next;
    free(t);
    t = next;
  }
}

size_t cio_pg_nrows(const cio_pg_result *r) { return r ? (size_t)PQntuples(r->res) : 0; }
size_t cio_pg_ncols(const cio_pg_result *r) { return r ? (size_t)PQnfields(r->res) : 0; }

const char *cio_pg_column_name(const cio_pg_result *r, size_t col) {
  if (!r || col >= cio_pg_ncols(r)) return NULL;
  return PQfname(r->res, (int)col);
}

static cio_pg_type type_of(Oid oid) {
  switch (oid) {
  case OID_BOOL: return CIO_PG_T_BOOL;
  case OID_INT2: return CIO_PG_T_INT2;
  case OID_INT4: return CIO_PG_T_INT4;
  case OID_INT8: return CIO_PG_T_INT8;
  case OID_FLOAT4: return CIO_PG_T_FLOAT4;
  case OID_FLOAT8: return CIO_PG_T_FLOAT8;
  case OID_TEXT:
  case OID_VARCHAR:
  case OID_BPCHAR:
  case OID_NAME:
  case OID_CHAR: return CIO_PG_T_TEXT;
  case OID_BYTEA: return CIO_PG_T_BYTEA;
  case OID_UUID: return CIO_PG_T_UUID;
  case OID_TIMESTAMP: return CIO_PG_T_TIMESTAMP;
  case OID_TIMESTAMPTZ: return CIO_PG_T_TIMESTAMPTZ;
  case OID_NUMERIC: return CIO_PG_T_NUMERIC;
  case OID_JSON: return CIO_PG_T_JSON;
  case OID_JSONB: return CIO_PG_T_JSONB;
  default: return CIO_PG_T_OTHER;
  }
}

int cio_pg_column_type(const cio_pg_result *r, size_t col) {
  if (!r || col >= cio_pg_ncols(r)) return -EINVAL;
  return (int)type_of(PQftype(r->res, (int)col));
}

bool cio_pg_is_null(const cio_pg_result *r, size_t row, size_t col) {
  if (!r || row >= cio_pg_nrows(r) || col >= cio_pg_ncols(r)) return true;
  return PQgetisnull(r->res, (int)row, (int)col);
}

// The value at (row, col) and its type; CIO_PG_NULL, -EINVAL out of range.
static int locate(const cio_pg_result *r, size_t row, size_t col, const unsigned char **v, int *len,
                  cio_pg_type *type) {
  if (!r || row >= cio_pg_nrows(r) || col >= cio_pg_ncols(r)) return -EINVAL;
  if (PQgetisnull(r->res, (int)row, (int)col)) return CIO_PG_NULL;
  *v = (const unsigned char *)PQgetvalue(r->res, (int)row, (int)col);
  *len = PQgetlength(r->res, (int)row, (int)col);
  *type = type_of(PQftype(r->res, (int)col));
  return 0;
}

static uint16_t be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const unsigned char *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

int cio_pg_get_int(const cio_pg_result *r, size_t row, size_t col, int64_t *out) {
  const unsigned char *v;
  int len;
  cio_pg_type t;
  int rc = locate(r, row, col, &v, &len, &t);
  if (rc < 0) return rc;
  if (t == CIO_PG_T_INT2 && len == 2)
    *out = (int16_t)be16(v);
  else if (t == CIO_PG_T_INT4 && len == 4)
    *out = (int32_t)be32(v);
  else if (t == CIO_PG_T_INT8 && len == 8)
    *out = (int64_t)be64(v);
  else if ((t == CIO_PG_T_TIMESTAMP || t == CIO_PG_T_TIMESTAMPTZ) && len == 8) {
    int64_t pg = (int64_t)be64(v);
    // (Past 294246 AD the microseconds since 1970 no longer fit 64 bits,
    // though PostgreSQL's since 2000 do: out of range, not a value 30
    // years off.)
    if (pg != INT64_MAX && pg > INT64_MAX - EPOCH_SHIFT_US) return -EINVAL;
    *out = pg == INT64_MAX || pg == INT64_MIN ? pg : pg + EPOCH_SHIFT_US;
  } else if (PQftype(r->res, (int)col) == OID_OID && len == 4)
    *out = be32(v);
  else
    return CIO_PG_TYPE;
  return 0;
}

int cio_pg_get_float(const cio_pg_result *r, size_t row, size_t col, double *out) {
  const unsigned char *v;
  int len;
  cio_pg_type t;
  int rc = locate(r, row, col, &v, &len, &t);
  if (rc < 0) return rc;
  if (t == CIO_PG_T_FLOAT4 && len == 4) {
    uint32_t u = be32(v);
    float f;
    memcpy(&f, &u, 4);
    *out = f;
  } else if (t == CIO_PG_T_FLOAT8 && len == 8) {
    uint64_t u = be64(v);
    memcpy(out, &u, 8);
  } else
    return CIO_PG_TYPE;
  return 0;
}

int cio_pg_get_bool(const cio_pg_result *r, size_t row, size_t col, bool *out) {
  const unsigned char *v;
  int len;
  cio_pg_type t;
  int rc = locate(r, row, col, &v, &len, &t);
  if (rc < 0) return rc;
  if (t != CIO_PG_T_BOOL || len != 1) return CIO_PG_TYPE;
  *out = v[0] != 0;
  return 0;
}

int cio_pg_get_bytes(const cio_pg_result *r, size_t row, size_t col, const void **out,
                     size_t *len) {
  const unsigned char *v;
  int n;
  cio_pg_type t;
  int rc = locate(r, row, col, &v, &n, &t);
  if (rc < 0) return rc;
  if (t != CIO_PG_T_BYTEA && t != CIO_PG_T_UUID) return CIO_PG_TYPE;
  *out = v;
  if (len) *len = (size_t)n;
  return 0;
}

// A buffer of `size` bytes kept with the result, or NULL.
static char *made_text_new(cio_pg_result *r, size_t size) {
  made_text *t = cio__malloc(sizeof *t + size);
  if (!t) return NULL;
  t->next = r->texts;
  r->texts = t;
  return t->s;
}

// Numeric's binary form: ndigits, weight (of the first digit, in powers of
// 10000), sign, display scale, then the base-10000 digits.
static int numeric_text(cio_pg_result *r, const unsigned char *v, int len, const char **out) {
  if (len < 8) return CIO_PG_PROTOCOL;
  int ndigits = be16(v), weight = (int16_t)be16(v + 2), sign = be16(v + 4), dscale = be16(v + 6);
  if (len != 8 + 2 * ndigits) return CIO_PG_PROTOCOL;
  const char *special = sign == 0xC000   ? "NaN"
                        : sign == 0xD000 ? "Infinity"
                        : sign == 0xF000 ? "-Infinity"
                                         : NULL;
  if (special) {
    *out = special;
    return 0;
  }
  size_t cap = (size_t)(weight > 0 ? weight + 1 : 1) * 4 + (size_t)dscale + 8;
  char *s = made_text_new(r, cap), *p = s;
  if (!s) return -ENOMEM;
  if (sign == 0x4000) *p++ = '-';
  if (weight < 0) *p++ = '0';
  for (int i = 0; i <= weight; i++) {
    int d = i < ndigits ? be16(v + 8 + 2 * i) : 0;
    p += sprintf(p, i == 0 ? "%d" : "%04d", d);
  }
  if (dscale > 0) {
    *p++ = '.';
    for (int i = weight + 1, left = dscale; left > 0; i++) {
      int d = i >= 0 && i < ndigits ? be16(v + 8 + 2 * i) : 0;
      char group[8];
      snprintf(group, sizeof group, "%04d", d);
      for (int k = 0; k < 4 && left > 0; k++, left--) *p++ = group[k];
    }
  }
  *p = '\0';
  *out = s;
  return 0;
}

int cio_pg_get_text(const cio_pg_result *res, size_t row, size_t col, const char **out,
                    size_t *len) {
  cio_pg_result *r = (cio_pg_result *)res; // made texts are kept with it
  const unsigned char *v;
  int n;
  cio_pg_type t;
  int rc = locate(r, row, col, &v, &n, &t);
  if (rc < 0) return rc;
  const char *s = NULL;
  char *made;
  switch (t) {
  case CIO_PG_T_TEXT:
  case CIO_PG_T_JSON: s = (const char *)v; break;
  case CIO_PG_T_JSONB: // a version byte (1), then the text
    if (n < 1 || v[0] != 1) return CIO_PG_PROTOCOL;
    s = (const char *)v + 1;
    break;
  case CIO_PG_T_NUMERIC:
    rc = numeric_text(r, v, n, &s);
    if (rc < 0) return rc;
    break;
  case CIO_PG_T_UUID:
    if (n != 16 || !(made = made_text_new(r, 37))) return n != 16 ? CIO_PG_PROTOCOL : -ENOMEM;
    for (int i = 0, k = 0; i < 16; i++) {
      if (i == 4 || i == 6 || i == 8 || i == 10) made[k++] = '-';
      k += sprintf(made + k, "%02x", v[i]);
    }
    s = made;
    break;
  case CIO_PG_T_INT2:
  case CIO_PG_T_INT4:
  case CIO_PG_T_INT8: {
    int64_t i;
    if ((rc = cio_pg_get_int(r, row, col, &i)) < 0) return rc;
    if (!(made = made_text_new(r, 24))) return -ENOMEM;
    snprintf(made, 24, "%" PRId64, i);
    s = made;
    break;
  }
  default: return CIO_PG_TYPE;
  }
  *out = s;
  if (len) *len = strlen(s);
  return 0;
}
