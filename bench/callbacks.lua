-- wrk script: signed DingTalk card callbacks ("vote" on the poll card) from a pool of users, each signed with the
-- next of a list of timestamps, as time goes by. Each request carries its own params.seq (thread and counter), so none
-- is a redelivery: the callback id covers the content, and a redelivery is answered from the record instead of being
-- handled, which would flatter the figures. Used by callbacks.sh; the first script argument is the path.
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  path = args[1] or "/dingtalk/callbacks/card"
  out_track_id = os.getenv("BENCH_OUT_TRACK_ID")
  -- BENCH_CARDS > 1 spreads the votes over the cards <id>-1 … <id>-N (callbacks.sh sends them), one after the other.
  card_ids = {}
  local cards = tonumber(os.getenv("BENCH_CARDS") or "1")
  for i = 1, cards do
    card_ids[i] = cards == 1 and out_track_id or (out_track_id .. "-" .. i)
  end
  users = tonumber(os.getenv("BENCH_USERS") or "10000")
  -- One string of fixed-width records ("<13-digit timestamp><44-character signature>"), not a table or two
  -- strings per stamp: every one of LuaJIT's collections sweeps every live string, and 100k of them slowed the client
  -- by ~15% (measured on the bare endpoint).
  local records = {}
  for line in io.lines(os.getenv("BENCH_SIGNATURES")) do
    local timestamp, signature = line:match("^(%d+) (%S+)$")
    assert(#timestamp == 13 and #signature == 44, "unexpected signature line: " .. line)
    records[#records + 1] = timestamp .. signature
  end
  stamps = table.concat(records)
  stamp_count = #records
  records = nil
  options = { "A", "B", "C" }
  -- Requests per signed timestamp per thread: 4 on each of 2 threads ≈ 8 callbacks a millisecond, about what the
  -- gateway answers; the timestamps advance in step with the requests, as DingTalk's do.
  stamp_step = tonumber(os.getenv("BENCH_STAMP_STEP") or "4")
  first = id * 7919
  counter = first
end

function request()
  counter = counter + 1
  -- The card from the counter's remainder, the option from its quotient: with the option from the remainder too, 3
  -- cards (or any multiple of 3) would each always get the same option, so after every user's first vote nobody
  -- would change their vote, and no card would change for everyone again.
  local at = (math.floor((counter - first) / stamp_step) % stamp_count) * 57
  local body = string.format(
    '{"type":"actionCallback","outTrackId":"%s","corpId":"dingBench","userId":"u%d","userIdType":1,"spaceType":"im","spaceId":"cidBench==",'
      .. '"content":"{\\"cardPrivateData\\":{\\"actionIds\\":[\\"vote_btn\\"],\\"params\\":{\\"action\\":\\"vote\\",\\"option\\":\\"%s\\",\\"seq\\":\\"%d-%d\\"}}}"}',
    card_ids[(counter % #card_ids) + 1], (counter * 31) % users, options[(math.floor(counter / #card_ids) % 3) + 1], id, counter)
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["x-ddpaas-signature-timestamp"] = stamps:sub(at + 1, at + 13),
    ["x-ddpaas-signature"] = stamps:sub(at + 14, at + 57),
  }, body)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(string.format("RESULT requests=%d rps=%.0f p50_us=%d p99_us=%d p999_us=%d max_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.requests / seconds, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max, errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
