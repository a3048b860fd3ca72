/*
 * ctl_redis_lua.h - the Lua scripts ctl_redis.c runs in Redis.
 *
 * Each script is one atomic step of the sale (Redis runs a script with no
 * other command in between), so hosts never see half a take or half a
 * confirm. They are loaded once with SCRIPT LOAD and run with EVALSHA;
 * the key names come from the caller (KEYS), as Redis requires.
 *
 * Lua numbers are doubles; every count is below 2^53 (CTL_REDIS_STOCK_MAX)
 * so they are exact, and take's floor(remaining / (2n)) is exact too.
 * Errors are returned as "CODE text" error replies, CODE being what
 * ctl_redis.c maps to a result.
 */
#ifndef SECKILL_CTL_REDIS_LUA_H
#define SECKILL_CTL_REDIS_LUA_H

/*
 * take. KEYS: stock, hosts, released. ARGV: host, n_takers, max_chunk.
 * Returns {chunk, stock left after it} (chunk 0 when empty). The chunk
 * rule is stock_chunk_size's:
 *   chunk = min(max_chunk, max(1, remaining / (2 * n_takers)))
 * A host an operator released (release_host) takes nothing: RELEASED.
 */
static const char ctl_lua_take[] =
	"local raw = redis.call('GET', KEYS[1])\n"
	"if not raw then return redis.error_reply('NOTFOUND ' .. KEYS[1] .. ' does not exist') end\n"
	"local remaining = tonumber(raw)\n"
	"if remaining == nil then return redis.error_reply('BADVALUE ' .. KEYS[1] .. ' is not an integer') end\n"
	"if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then\n"
	"  return redis.error_reply('RELEASED host ' .. ARGV[1] .. ' is in ' .. KEYS[3] .. ': its holding was released') end\n"
	"if remaining <= 0 then return {0, 0} end\n"
	"local n = tonumber(ARGV[2])\n"
	"if n < 1 then n = 1 end\n"
	"local max_chunk = tonumber(ARGV[3])\n"
	"if max_chunk < 1 then max_chunk = 1 end\n"
	"local chunk = math.floor(remaining / (2 * n))\n"
	"if chunk < 1 then chunk = 1 end\n"
	"if chunk > max_chunk then chunk = max_chunk end\n"
	"redis.call('DECRBY', KEYS[1], chunk)\n"
	"redis.call('HINCRBY', KEYS[2], ARGV[1], chunk)\n"
	"return {chunk, remaining - chunk}\n";

/*
 * give_back. KEYS: stock, hosts. ARGV: host, n.
 * Returns the units moved back: min(n, what the host holds).
 */
static const char ctl_lua_give_back[] =
	"if redis.call('EXISTS', KEYS[1]) == 0 then\n"
	"  return redis.error_reply('NOTFOUND ' .. KEYS[1] .. ' does not exist') end\n"
	"local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')\n"
	"local n = tonumber(ARGV[2])\n"
	"if n > held then n = held end\n"
	"if n <= 0 then return 0 end\n"
	"redis.call('INCRBY', KEYS[1], n)\n"
	"redis.call('HINCRBY', KEYS[2], ARGV[1], -n)\n"
	"return n\n";

/*
 * confirm. KEYS: buyer claim, sold, hosts, stock, released. ARGV: order id,
 * host, ttl seconds.
 * Returns "ok", "replay" (this order holds the claim already: nothing
 * counted) or "duplicate" (another order holds it). The holding is checked
 * before the claim is taken so a failed confirm leaves nothing behind.
 * A released host (release_host gave its holding back to the stock) sold
 * its unit from a holding it no longer has: the unit is taken from the
 * stock instead ("ok"), or, with the stock empty, "released": nothing
 * counted, the order is to be rejected. Either way no count goes below 0
 * and nothing is sold twice.
 */
static const char ctl_lua_confirm[] =
	"local cur = redis.call('GET', KEYS[1])\n"
	"if cur then\n"
	"  if cur == ARGV[1] then return 'replay' end\n"
	"  return 'duplicate'\n"
	"end\n"
	"if redis.call('SISMEMBER', KEYS[5], ARGV[2]) == 1 then\n"
	"  local left = tonumber(redis.call('GET', KEYS[4]) or '0')\n"
	"  if left == nil or left < 1 then return 'released' end\n"
	"  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])\n"
	"  redis.call('INCR', KEYS[2])\n"
	"  redis.call('DECR', KEYS[4])\n"
	"  return 'ok'\n"
	"end\n"
	"local held = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')\n"
	"if held < 1 then\n"
	"  return redis.error_reply('NOTHELD host ' .. ARGV[2] .. ' holds no unit in ' .. KEYS[3])\n"
	"end\n"
	"if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[3]) then\n"
	"  return redis.error_reply('RACE claim appeared inside a script')\n"
	"end\n"
	"redis.call('INCR', KEYS[2])\n"
	"redis.call('HINCRBY', KEYS[3], ARGV[2], -1)\n"
	"return 'ok'\n";

/*
 * confirm_batch. KEYS: sold, hosts, stock, released, then one buyer claim
 * per order. ARGV: host, ttl seconds, then the order ids, in the claims'
 * order. Returns one code per order, what confirm would have answered had
 * the orders been confirmed one after the other in this order:
 *   0 ok, 1 replay, 2 duplicate, 3 released (stock empty), 4 not held.
 * The idea: everything but the claims is read once and written once, so
 * an order costs Redis one SET NX (and a GET only when that fails), not a
 * script call. The host's budget is what it holds (or, released, the
 * stock); each claim won spends one unit of it, and an order the budget
 * cannot pay for is looked up, never claimed.
 *
 * Nothing is written before every argument and every counter it will
 * write is checked (Redis does not roll a script back): a failed call
 * leaves nothing behind. A claim key holding another type (a hand edit)
 * counts as taken: duplicate.
 */
static const char ctl_lua_confirm_batch[] =
	"local n = #KEYS - 4\n"
	"if n < 1 or #ARGV ~= n + 2 then\n"
	"  return redis.error_reply('BADARGS want 4 keys + 1 claim per order, host, ttl, 1 id per order') end\n"
	"local ttl = ARGV[2]\n"
	"if not string.match(ttl, '^[1-9]%d*$') then return redis.error_reply('BADARGS ttl ' .. ttl) end\n"
	"for i = 3, n + 2 do\n"
	"  if ARGV[i] == '' then return redis.error_reply('BADARGS empty order id') end\n"
	"end\n"
	"local function count(v)\n"
	"  if not v then return 0 end\n"
	"  if not string.match(v, '^-?%d+$') then return nil end\n"
	"  return tonumber(v)\n"
	"end\n"
	"if not count(redis.call('GET', KEYS[1])) then\n"
	"  return redis.error_reply('BADVALUE ' .. KEYS[1] .. ' is not an integer') end\n"
	"local released = redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1\n"
	"local budget\n"
	"if released then budget = count(redis.call('GET', KEYS[3]))\n"
	"else budget = count(redis.call('HGET', KEYS[2], ARGV[1])) end\n"
	"if not budget then\n"
	"  return redis.error_reply('BADVALUE ' .. ARGV[1] .. ' holding or the stock is not an integer') end\n"
	"local out, won = {}, 0\n"
	"for i = 1, n do\n"
	"  local key, oid = KEYS[4 + i], ARGV[2 + i]\n"
	"  if won < budget and redis.call('SET', key, oid, 'NX', 'EX', ttl) then\n"
	"    won = won + 1\n"
	"    out[i] = 0\n"
	"  else\n"
	"    local cur = redis.pcall('GET', key)\n"
	"    if cur == oid then out[i] = 1\n"
	"    elseif cur then out[i] = 2\n"
	"    elseif released then out[i] = 3\n"
	"    else out[i] = 4 end\n"
	"  end\n"
	"end\n"
	"if won > 0 then\n"
	"  redis.call('INCRBY', KEYS[1], won)\n"
	"  if released then redis.call('DECRBY', KEYS[3], won)\n"
	"  else redis.call('HINCRBY', KEYS[2], ARGV[1], -won) end\n"
	"end\n"
	"return out\n";

/*
 * create. KEYS: campaign, stock, sold, hosts, released, settled (one slot:
 * {id}). ARGV: stock, starts_at, force, buckets (1: claims beside the
 * campaign; more: sharded, see ctl_redis.h).
 * Returns "ok" or "exists". The caller then adds the id to the campaigns
 * set and, for a new one, bumps the version (ctl_redis.c): those keys are
 * shared by every campaign, in other slots.
 */
static const char ctl_lua_create[] =
	"if ARGV[3] ~= '1' and (redis.call('EXISTS', KEYS[1]) == 1 or\n"
	"                      redis.call('EXISTS', KEYS[2]) == 1) then return 'exists' end\n"
	"redis.call('DEL', KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6])\n"
	"redis.call('HSET', KEYS[1], 'stock', ARGV[1], 'starts_at', ARGV[2], 'state', 'scheduled',\n"
	"           'buckets', ARGV[4])\n"
	"redis.call('SET', KEYS[2], ARGV[1])\n"
	"redis.call('SET', KEYS[3], 0)\n"
	"return 'ok'\n";

/*
 * status. KEYS: campaign, stock, sold, hosts, released. ARGV: host.
 * Returns {total, stock, sold, held_sum, held_self, n_hosts, released}.
 */
static const char ctl_lua_status[] =
	"if redis.call('EXISTS', KEYS[1]) == 0 then\n"
	"  return redis.error_reply('NOTFOUND ' .. KEYS[1] .. ' does not exist') end\n"
	"local total = tonumber(redis.call('HGET', KEYS[1], 'stock') or '0')\n"
	"local stock = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
	"local sold = tonumber(redis.call('GET', KEYS[3]) or '0')\n"
	"local vals = redis.call('HVALS', KEYS[4])\n"
	"local held = 0\n"
	"for _, v in ipairs(vals) do held = held + tonumber(v) end\n"
	"local self = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')\n"
	"return {total, stock, sold, held, self, #vals, redis.call('SISMEMBER', KEYS[5], ARGV[1])}\n";

/*
 * release_host. KEYS: stock, hosts, released, campaign, sold, settled.
 * ARGV: host, claimed (the claims the host won in a sharded campaign's
 * buckets, read after each bucket refuses it more; "0" otherwise).
 * For a host that died and will not come back: its claims not yet settled
 * are settled first (sold, out of what it holds; beyond that out of the
 * stock), then what it still holds goes back to the stock, its entry is
 * deleted, and it is marked released, so that if it was alive after all
 * its takes are refused and its confirms draw on the stock (see confirm;
 * a sharded campaign's buckets refuse them). Returns the units given back.
 */
static const char ctl_lua_release_host[] =
	"if redis.call('EXISTS', KEYS[4]) == 0 then\n"
	"  return redis.error_reply('NOTFOUND ' .. KEYS[4] .. ' does not exist') end\n"
	"local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')\n"
	"local due = tonumber(ARGV[2]) - tonumber(redis.call('HGET', KEYS[6], ARGV[1]) or '0')\n"
	"if due > 0 then\n"
	"  local from_stock = due - math.max(held, 0)\n"
	"  if from_stock > 0 then redis.call('DECRBY', KEYS[1], from_stock); held = due end\n"
	"  held = held - due\n"
	"  redis.call('INCRBY', KEYS[5], due)\n"
	"  redis.call('HSET', KEYS[6], ARGV[1], ARGV[2])\n"
	"end\n"
	"if held > 0 then redis.call('INCRBY', KEYS[1], held) else held = 0 end\n"
	"redis.call('HDEL', KEYS[2], ARGV[1])\n"
	"redis.call('SADD', KEYS[3], ARGV[1])\n"
	"return held\n";

/*
 * claim_batch: a sharded campaign's confirm, in one bucket {id:k}.
 * KEYS: claims (hash buyer -> order id), claimed (hash host -> claims won
 * here), released (this bucket's copy of the released set). ARGV: host,
 * ttl seconds, then the n buyers, then their n order ids.
 * Returns one code per order (0 ok, 1 replay, 2 duplicate, 3 released,
 * as confirm_batch), then the host's claims won in this bucket so far:
 * an absolute count, so a reply lost in flight is made good by the next.
 * The holding is not here (it is on the campaign's slot): the claims won
 * are moved from held to sold there by settle, by count. A released host
 * claims nothing. Nothing is written before the arguments are checked
 * (each buyer and order id in the loop, which writes nothing: a loop of
 * its own cost 2-3 % more, BENCHMARKS.md round 10).
 * The claims are read with one HMGET and the won ones written with one
 * HSET, not an HSETNX each: a command per order cost Redis 0.1-0.2 us
 * more a confirmed order (BENCHMARKS.md, round 9). A buyer twice in one
 * batch is caught in won_here, as the HSETNX of the first would have been.
 */
static const char ctl_lua_claim_batch[] =
	"local n = (#ARGV - 2) / 2\n"
	"if #KEYS ~= 3 or n < 1 or n ~= math.floor(n) then\n"
	"  return redis.error_reply('BADARGS want 3 keys; host, ttl, n buyers, n order ids') end\n"
	"local ttl = ARGV[2]\n"
	"if not string.match(ttl, '^[1-9]%d*$') then return redis.error_reply('BADARGS ttl ' .. ttl) end\n"
	"local had = redis.call('HGET', KEYS[2], ARGV[1]) or '0'\n"
	"if not string.match(had, '^%d+$') then\n"
	"  return redis.error_reply('BADVALUE ' .. KEYS[2] .. ' ' .. ARGV[1] .. ' is not a count') end\n"
	"local released = redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1\n"
	"local cur = redis.call('HMGET', KEYS[1], unpack(ARGV, 3, 2 + n))\n"
	"local out, won, new, won_here = {}, 0, {}, {}\n"
	"for i = 1, n do\n"
	"  local buyer, oid = ARGV[2 + i], ARGV[2 + n + i]\n"
	"  if buyer == '' or oid == '' then return redis.error_reply('BADARGS empty buyer or order id') end\n"
	"  local c = cur[i] or won_here[buyer]\n"
	"  if c == oid then out[i] = 1\n"
	"  elseif c then out[i] = 2\n"
	"  elseif released then out[i] = 3\n"
	"  else\n"
	"    won = won + 1\n"
	"    won_here[buyer] = oid\n"
	"    new[2 * won - 1] = buyer\n"
	"    new[2 * won] = oid\n"
	"    out[i] = 0\n"
	"  end\n"
	"end\n"
	"if won > 0 then\n"
	"  redis.call('HSET', KEYS[1], unpack(new))\n"
	"  redis.call('EXPIRE', KEYS[1], ttl)\n"
	"  out[n + 1] = redis.call('HINCRBY', KEYS[2], ARGV[1], won)\n"
	"else out[n + 1] = tonumber(had) end\n"
	"return out\n";

/*
 * settle: a sharded campaign's claims, counted, moved from held to sold.
 * KEYS: sold, hosts, settled (hash host -> claims settled), campaign.
 * ARGV: host, claimed (every claim the host won, over all buckets).
 * Settles claimed - settled (never less than 0: the count is absolute, a
 * settle repeated or overtaken settles nothing twice). A host never sells
 * more than it holds, so held covers it; if not (a bug), nothing moves:
 * NOTHELD. Returns the units settled now.
 */
static const char ctl_lua_settle[] =
	"if redis.call('EXISTS', KEYS[4]) == 0 then\n"
	"  return redis.error_reply('NOTFOUND ' .. KEYS[4] .. ' does not exist') end\n"
	"local due = tonumber(ARGV[2]) - tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')\n"
	"if due <= 0 then return 0 end\n"
	"local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')\n"
	"if held < due then\n"
	"  return redis.error_reply('NOTHELD host ' .. ARGV[1] .. ' holds ' .. held .. ' in ' ..\n"
	"    KEYS[2] .. ', fewer than the ' .. due .. ' claims to settle') end\n"
	"redis.call('HINCRBY', KEYS[2], ARGV[1], -due)\n"
	"redis.call('INCRBY', KEYS[1], due)\n"
	"redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])\n"
	"return due\n";

#endif
