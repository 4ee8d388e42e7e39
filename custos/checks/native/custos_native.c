/* custos_native: the preparing pass's per-value work as DuckDB scalar functions (C extension API).
 *
 * Each function computes exactly what an SQL expression of custos/checks/engine/prepare.py computes;
 * prepare.py uses them on DuckDB when this extension is loaded and keeps the SQL otherwise (and
 * always on Spark). tests/checks/test_native.py compares the two on every prepared column.
 *
 *   custos_slow(name, id_no, mobile, phone, address, postcode, email) -> INTEGER
 *       bit i set when value i is not in the form the SQL's fast path reads as it is (so the exact
 *       slow path must normalise it): 1 name, 2 id_no, 4 mobile, 8 phone, 16 address, 32 postcode,
 *       64 email. A NULL value is fast. Stricter than the SQL test is safe (the slow path is exact
 *       for every value); looser is not.
 *   custos_parts(id_n, mobile_s) -> STRUCT(f18, f15, id17, id_sum, mobile_n, mobile_digits, mobile_i)
 *       the ID number's form, its 17 digits as an integer and the GB 11643 sum modulo 11; the
 *       mobile without +86/0086/86, whether it is all digits, and as an integer when 11 digits.
 */
#define DUCKDB_EXTENSION_NAME custos_native
#include "duckdb_extension.h"

#include <stdint.h>
#include <string.h>

DUCKDB_EXTENSION_EXTERN

static inline const char *str_of(const duckdb_string_t *s, uint32_t *len) {
	*len = s->value.inlined.length;
	return *len <= 12 ? s->value.inlined.inlined : s->value.pointer.ptr;
}

static inline int is_valid(const uint64_t *validity, idx_t row) {
	return !validity || (validity[row / 64] >> (row % 64)) & 1;
}

/* The next code point of valid UTF-8 (DuckDB validates VARCHAR) and its byte count. */
static inline uint32_t next_cp(const unsigned char *p, uint32_t left, uint32_t *used) {
	unsigned char c = p[0];
	if (c < 0x80 || left < 2) {
		*used = 1;
		return c;
	}
	if (c < 0xE0) {
		*used = 2;
		return ((uint32_t)(c & 0x1F) << 6) | (p[1] & 0x3F);
	}
	if (c < 0xF0 || left < 4) {
		*used = left < 3 ? left : 3;
		return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
	}
	*used = 4;
	return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) | ((uint32_t)(p[2] & 0x3F) << 6) |
	       (p[3] & 0x3F);
}

/* prepare._NAME_SPECIAL: [\x{FF03}-\x{FF5A}\x{3000} ] */
static int name_special(const char *s, uint32_t len) {
	const unsigned char *p = (const unsigned char *)s;
	for (uint32_t i = 0; i < len;) {
		if (p[i] < 0x80) {
			if (p[i] == ' ')
				return 1;
			i++;
			continue;
		}
		uint32_t used;
		uint32_t cp = next_cp(p + i, len - i, &used);
		if (cp == 0x3000 || (cp >= 0xFF03 && cp <= 0xFF5A))
			return 1;
		i += used;
	}
	return 0;
}

/* prepare._ADDR_SPECIAL: full-width forms, the ideographic space, U+00C0-U+052F (letters with a
 * case), A-Z and the characters of domain.normalize.ADDRESS_DROP. */
static int addr_special(const char *s, uint32_t len) {
	const unsigned char *p = (const unsigned char *)s;
	for (uint32_t i = 0; i < len;) {
		unsigned char c = p[i];
		if (c < 0x80) {
			if ((c >= 'A' && c <= 'Z') || c == ' ' || c == ',' || c == '.' || c == '-' || c == '_' || c == '/' ||
			    c == '(' || c == ')' || c == '#')
				return 1;
			i++;
			continue;
		}
		uint32_t used;
		uint32_t cp = next_cp(p + i, len - i, &used);
		if ((cp >= 0xFF03 && cp <= 0xFF5A) || cp == 0x3000 || (cp >= 0x00C0 && cp <= 0x052F) || cp == 0x3002 ||
		    cp == 0x3001 || cp == 0xFF0C || cp == 0xFF08 || cp == 0xFF09)
			return 1;
		i += used;
	}
	return 0;
}

/* prepare.fast: plain ASCII (byte length = character length) without any of ``chars``. */
static int ascii_plain(const char *s, uint32_t len, const char *chars) {
	for (uint32_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80 || strchr(chars, c) != NULL)
			return 0;
	}
	return 1;
}

enum { SLOW_NAME = 1, SLOW_ID = 2, SLOW_MOBILE = 4, SLOW_PHONE = 8, SLOW_ADDR = 16, SLOW_POSTCODE = 32, SLOW_EMAIL = 64 };

static void custos_slow(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
	(void)info;
	idx_t n = duckdb_data_chunk_get_size(input);
	const duckdb_string_t *col[7];
	uint64_t *val[7];
	for (idx_t c = 0; c < 7; c++) {
		duckdb_vector v = duckdb_data_chunk_get_vector(input, c);
		col[c] = (const duckdb_string_t *)duckdb_vector_get_data(v);
		val[c] = duckdb_vector_get_validity(v);
	}
	int32_t *out = (int32_t *)duckdb_vector_get_data(output);
	for (idx_t i = 0; i < n; i++) {
		int32_t slow = 0;
		uint32_t len;
		const char *s;
		if (is_valid(val[0], i) && (s = str_of(&col[0][i], &len), name_special(s, len)))
			slow |= SLOW_NAME;
		if (is_valid(val[1], i) && (s = str_of(&col[1][i], &len), !ascii_plain(s, len, " ")))
			slow |= SLOW_ID;
		if (is_valid(val[2], i) && (s = str_of(&col[2][i], &len), !ascii_plain(s, len, " -()")))
			slow |= SLOW_MOBILE;
		if (is_valid(val[3], i) && (s = str_of(&col[3][i], &len), !ascii_plain(s, len, " -()")))
			slow |= SLOW_PHONE;
		if (is_valid(val[4], i) && (s = str_of(&col[4][i], &len), addr_special(s, len)))
			slow |= SLOW_ADDR;
		if (is_valid(val[5], i) && (s = str_of(&col[5][i], &len), !ascii_plain(s, len, " ")))
			slow |= SLOW_POSTCODE;
		if (is_valid(val[6], i) && (s = str_of(&col[6][i], &len), !ascii_plain(s, len, " ")))
			slow |= SLOW_EMAIL;
		out[i] = slow;
	}
}

static inline int all_digits(const char *s, uint32_t len) {
	for (uint32_t i = 0; i < len; i++)
		if ((unsigned char)(s[i] - '0') > 9)
			return 0;
	return 1;
}

static inline int64_t digits_value(const char *s, uint32_t len) {
	int64_t v = 0;
	for (uint32_t i = 0; i < len; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static inline uint32_t char_length(const char *s, uint32_t len) {
	uint32_t n = 0;
	for (uint32_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

static const int WEIGHTS[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};

enum { P_F18, P_F15, P_ID17, P_ID_SUM, P_MOBILE_N, P_MOBILE_DIGITS, P_MOBILE_I, P_COUNT };

static void custos_parts(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
	(void)info;
	idx_t n = duckdb_data_chunk_get_size(input);
	duckdb_vector vid = duckdb_data_chunk_get_vector(input, 0), vmo = duckdb_data_chunk_get_vector(input, 1);
	const duckdb_string_t *ids = (const duckdb_string_t *)duckdb_vector_get_data(vid);
	const duckdb_string_t *mos = (const duckdb_string_t *)duckdb_vector_get_data(vmo);
	uint64_t *id_val = duckdb_vector_get_validity(vid), *mo_val = duckdb_vector_get_validity(vmo);

	duckdb_vector child[P_COUNT];
	uint64_t *cval[P_COUNT];
	for (int c = 0; c < P_COUNT; c++) {
		child[c] = duckdb_struct_vector_get_child(output, c);
		duckdb_vector_ensure_validity_writable(child[c]);
		cval[c] = duckdb_vector_get_validity(child[c]);
	}
	bool *f18 = (bool *)duckdb_vector_get_data(child[P_F18]);
	bool *f15 = (bool *)duckdb_vector_get_data(child[P_F15]);
	int64_t *id17 = (int64_t *)duckdb_vector_get_data(child[P_ID17]);
	int32_t *id_sum = (int32_t *)duckdb_vector_get_data(child[P_ID_SUM]);
	bool *mdig = (bool *)duckdb_vector_get_data(child[P_MOBILE_DIGITS]);
	int64_t *mi = (int64_t *)duckdb_vector_get_data(child[P_MOBILE_I]);

	for (idx_t i = 0; i < n; i++) {
		uint32_t len;
		const char *s;
		/* ID: f18 = 18 characters, 17 digits and a digit or X; f15 = 15 digits (NULL for NULL) */
		int have17 = 0;
		if (is_valid(id_val, i)) {
			s = str_of(&ids[i], &len);
			int is18 = len == 18 && all_digits(s, 17) && ((unsigned char)(s[17] - '0') <= 9 || s[17] == 'X');
			int is15 = !is18 && len == 15 && all_digits(s, 15);
			f18[i] = is18;
			f15[i] = is15;
			if (is18) {
				id17[i] = digits_value(s, 17);
				have17 = 1;
			} else if (is15) {
				id17[i] = digits_value(s, 6) * 100000000000LL + 19000000000LL + digits_value(s + 6, 9);
				have17 = 1;
			}
		} else {
			duckdb_validity_set_row_invalid(cval[P_F18], i);
			duckdb_validity_set_row_invalid(cval[P_F15], i);
		}
		if (have17) {
			int64_t v = id17[i];
			int sum = 0;
			for (int k = 16; k >= 0; k--) {
				sum += (int)(v % 10) * WEIGHTS[k];
				v /= 10;
			}
			id_sum[i] = sum % 11;
		} else {
			duckdb_validity_set_row_invalid(cval[P_ID17], i);
			duckdb_validity_set_row_invalid(cval[P_ID_SUM], i);
		}
		/* mobile: the country code dropped by the SQL's rule (prefix and character length) */
		int have_i = 0;
		if (is_valid(mo_val, i)) {
			s = str_of(&mos[i], &len);
			uint32_t chars = char_length(s, len), skip = 0;
			if (chars == 14 && len >= 3 && memcmp(s, "+86", 3) == 0)
				skip = 3;
			else if (chars == 15 && len >= 4 && memcmp(s, "0086", 4) == 0)
				skip = 4;
			else if (chars == 13 && len >= 2 && memcmp(s, "86", 2) == 0)
				skip = 2;
			const char *m = s + skip;
			uint32_t mlen = len - skip;
			duckdb_vector_assign_string_element_len(child[P_MOBILE_N], i, m, mlen);
			int dig = all_digits(m, mlen);
			mdig[i] = dig;
			if (dig && mlen == 11) {
				mi[i] = digits_value(m, 11);
				have_i = 1;
			}
		} else {
			duckdb_validity_set_row_invalid(cval[P_MOBILE_N], i);
			duckdb_validity_set_row_invalid(cval[P_MOBILE_DIGITS], i);
		}
		if (!have_i)
			duckdb_validity_set_row_invalid(cval[P_MOBILE_I], i);
	}
}

static int register_function(duckdb_connection con, const char *name, duckdb_logical_type *params, int nparams,
                             duckdb_logical_type ret, duckdb_scalar_function_t fn) {
	duckdb_scalar_function f = duckdb_create_scalar_function();
	duckdb_scalar_function_set_name(f, name);
	for (int i = 0; i < nparams; i++)
		duckdb_scalar_function_add_parameter(f, params[i]);
	duckdb_scalar_function_set_return_type(f, ret);
	duckdb_scalar_function_set_function(f, fn);
	/* NULL arguments are values here (a NULL phone is a fast, empty value), not "the result is NULL" */
	duckdb_scalar_function_set_special_handling(f);
	duckdb_state state = duckdb_register_scalar_function(con, f);
	duckdb_destroy_scalar_function(&f);
	return state == DuckDBSuccess;
}

DUCKDB_EXTENSION_ENTRYPOINT(duckdb_connection connection, duckdb_extension_info info,
                            struct duckdb_extension_access *access) {
	duckdb_logical_type vc = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
	duckdb_logical_type bo = duckdb_create_logical_type(DUCKDB_TYPE_BOOLEAN);
	duckdb_logical_type bi = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
	duckdb_logical_type in = duckdb_create_logical_type(DUCKDB_TYPE_INTEGER);
	duckdb_logical_type seven[7] = {vc, vc, vc, vc, vc, vc, vc};
	duckdb_logical_type members[P_COUNT] = {bo, bo, bi, in, vc, bo, bi};
	const char *names[P_COUNT] = {"f18", "f15", "id17", "id_sum", "mobile_n", "mobile_digits", "mobile_i"};
	duckdb_logical_type parts = duckdb_create_struct_type(members, names, P_COUNT);
	int ok = register_function(connection, "custos_slow", seven, 7, in, custos_slow) &&
	         register_function(connection, "custos_parts", seven, 2, parts, custos_parts);
	duckdb_destroy_logical_type(&parts);
	duckdb_destroy_logical_type(&vc);
	duckdb_destroy_logical_type(&bo);
	duckdb_destroy_logical_type(&bi);
	duckdb_destroy_logical_type(&in);
	if (!ok)
		access->set_error(info, "custos_native: registering the functions failed");
	return ok;
}
