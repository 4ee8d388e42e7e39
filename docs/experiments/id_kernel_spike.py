"""Spike (session 4, not part of custos): GB 11643 ID features in a numba kernel over Arrow buffers,
against DuckDB computing the same in SQL. Figures: docs/history/benchmarks-2026-11.md, "Session 4".

Run in a separate virtualenv (numba is not a custos dependency):
    python3.11 -m venv /tmp/vn && /tmp/vn/bin/pip install numba pyarrow duckdb==1.4.4
    # ids.parquet: id_no of a book's parties, e.g. from a snapshot with DuckDB
    # (COPY (SELECT id_no FROM <esnap.source(...)>) TO 'ids.parquet')
    NUMBA_NUM_THREADS=2 /tmp/vn/bin/python docs/experiments/id_kernel_spike.py ids.parquet
"""
import sys, time, numpy as np, pyarrow as pa, pyarrow.parquet as pq, numba as nb, duckdb
t = pq.read_table(sys.argv[1])
ids = t.column("id_no").combine_chunks()
if ids.type == pa.large_string(): pass
buf = ids.buffers()
offs = np.frombuffer(buf[1], dtype=np.int32)[ids.offset: ids.offset + len(ids) + 1]
data = np.frombuffer(buf[2], dtype=np.uint8)
valid = ids.is_valid().to_numpy(zero_copy_only=False)
W = np.array([7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2], dtype=np.int64)
CHK = np.frombuffer(b"10X98765432", dtype=np.uint8)
@nb.njit(parallel=True, cache=False)
def feats(offs, data, valid, out_ok, out_birth, out_sex):
    n = len(offs) - 1
    for i in nb.prange(n):
        out_ok[i] = 0; out_birth[i] = 0; out_sex[i] = -1
        if not valid[i]: continue
        s, e = offs[i], offs[i+1]
        if e - s != 18: continue
        acc = 0; good = True
        for j in range(17):
            c = data[s+j]
            if c < 48 or c > 57: good = False; break
            acc += (c - 48) * W[j]
        if not good: continue
        last = data[s+17]
        if last == 120: last = 88
        if not ((48 <= last <= 57) or last == 88): continue
        y = (data[s+6]-48)*1000 + (data[s+7]-48)*100 + (data[s+8]-48)*10 + (data[s+9]-48)
        m = (data[s+10]-48)*10 + (data[s+11]-48); d = (data[s+12]-48)*10 + (data[s+13]-48)
        dim = 31
        if m == 2: dim = 29 if ((y % 4 == 0 and y % 100 != 0) or y % 400 == 0) else 28
        elif m == 4 or m == 6 or m == 9 or m == 11: dim = 30
        real = 1 <= m <= 12 and 1 <= d <= dim
        out_ok[i] = 1 | (2 if CHK[acc % 11] == last else 0) | (4 if real else 0)
        out_birth[i] = y*10000 + m*100 + d if real else 0
        out_sex[i] = (data[s+16]-48) % 2
n = len(ids)
ok = np.zeros(n, np.int8); birth = np.zeros(n, np.int32); sex = np.zeros(n, np.int8)
feats(offs, data, valid, ok, birth, sex)  # compile
for _ in range(3):
    t0 = time.perf_counter(); c0 = time.process_time()
    feats(offs, data, valid, ok, birth, sex)
    print("numba ID features: %.3f s wall %.3f cpu for %d" % (time.perf_counter()-t0, time.process_time()-c0, n))
print("f18", int((ok & 1).sum()), "checksum ok", int(((ok & 3) == 3).sum()), "date real", int(((ok & 5) == 5).sum()))
con = duckdb.connect(); con.execute("SET threads=2")
con.execute("CREATE TABLE x AS SELECT * FROM read_parquet(?)", [sys.argv[1]])
W17 = " + ".join(f"(id17 // {10 ** (16 - i)} % 10) * {w}" for i, w in enumerate(W))
q = f"""SELECT count(*) FILTER (f18), count(*) FILTER (f18 AND substr('10X98765432', ({W17}) % 11 + 1, 1) = substr(id_n, 18, 1)) FROM (
 SELECT *, CASE WHEN f18 THEN CAST(substr(id_n,1,17) AS BIGINT) END AS id17 FROM (
 SELECT upper(id_no) AS id_n, length(id_no) = 18 AND regexp_matches(upper(id_no), '^[0-9]{{17}}[0-9X]$') AS f18 FROM x))"""
for _ in range(3):
    t0 = time.perf_counter(); c0 = time.process_time(); r = con.execute(q).fetchall()
    print("duckdb ID checksum: %.3f s wall %.3f cpu" % (time.perf_counter()-t0, time.process_time()-c0), r)
# round trip: DuckDB -> Arrow -> kernel -> back into DuckDB by position
for _ in range(2):
    t0 = time.perf_counter(); c0 = time.process_time()
    a = con.execute("SELECT id_no FROM x").fetch_arrow_table().column(0).combine_chunks()
    t1 = time.perf_counter()
    b = a.buffers(); o = np.frombuffer(b[1], dtype=np.int32)[a.offset:a.offset+len(a)+1]; dd = np.frombuffer(b[2], dtype=np.uint8)
    v = a.is_valid().to_numpy(zero_copy_only=False)
    feats(o, dd, v, ok, birth, sex)
    t2 = time.perf_counter()
    ft = pa.table({"ok": ok, "birth": birth, "sex": sex})
    r = con.execute("SELECT count(*) FILTER (ok & 3 = 3) FROM x POSITIONAL JOIN ft").fetchall()
    print("round trip: fetch %.3f kernel %.3f join %.3f total cpu %.3f" % (t1-t0, t2-t1, time.perf_counter()-t2, time.process_time()-c0), r)
