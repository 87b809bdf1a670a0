-- wrk script for the benchmark harness (bench/wrk.py, which runs wrk with one thread): POST one JSON body, stop after
-- a fixed count of responses and say so on stdout (the harness then SIGINTs wrk, which otherwise sleeps out its whole
-- -d), count non-200 statuses, time the thread with CLOCK_MONOTONIC through LuaJIT's ffi (wrk's own duration includes
-- that sleep), and print the summary as one JSON line. Settings come from the environment: thread scripts get no
-- options.
--   BENCH_BODY_FILE      file holding the request body
--   BENCH_PATH           request path, e.g. /score
--   BENCH_PER_THREAD     responses the thread waits for before it stops
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")
local function now()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/score"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local limit = tonumber(os.getenv("BENCH_PER_THREAD"))
local threads = {}
done_count = 0
non200 = 0
first_bad = ""
t_start = 0
t_end = 0

function init(args)
    t_start = now()
end

function setup(thread)
    table.insert(threads, thread)
end

function response(status, headers, body)
    if done_count >= limit then
        return -- answers already in the buffer when stop() was called: outside the timed count
    end
    done_count = done_count + 1
    if status ~= 200 then
        non200 = non200 + 1
        if first_bad == "" then
            -- kept for the report, reduced to characters that need no escaping inside a JSON string
            first_bad = status .. " " .. string.sub(string.gsub(body or "", "[^%w %.,:;!%?%-_/%(%)%[%]{}]", " "), 1, 200)
        end
    end
    if done_count == limit then
        t_end = now()
        io.write("BENCH_THREAD_DONE\n")
        io.flush()
        wrk.thread:stop()
    end
end

function done(summary, latency, requests)
    local counted, bad, first, last, finished, sample = 0, 0, math.huge, 0, 0, ""
    for _, t in ipairs(threads) do
        counted = counted + t:get("done_count")
        bad = bad + t:get("non200")
        if sample == "" then
            sample = t:get("first_bad")
        end
        first = math.min(first, t:get("t_start"))
        if t:get("t_end") > 0 then
            finished = finished + 1
            last = math.max(last, t:get("t_end"))
        end
    end
    local elapsed = -1  -- a thread hit wrk's -d bound before its count: the harness falls back to wrk's duration
    if finished == #threads then
        elapsed = last - first
    end
    local e = summary.errors
    io.write(string.format(
        'BENCH_JSON {"elapsed_s": %.6f, "duration_us": %d, "requests": %d, "responses": %d, "non200": %d, "first_non200": "%s", "bytes": %d, ' ..
        '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
        '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "mean": %.1f, "max": %d}}\n',
        elapsed, summary.duration, summary.requests, counted, bad, sample, summary.bytes,
        e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
