/*
 * app.js - the sale page: lists the sales (/), or shows one (/c/{id}) with
 * its product, units left and a countdown on the SERVER's clock, and buys.
 *
 * Element ids are a contract for scripts and tests: countdown, buy, result,
 * left. The buyer's token comes from the cookie seckill_token (set by the
 * login service) or from #token=... in the URL (demos).
 *
 * Clock: GET /api/campaigns carries the server's now_ms. The offset from
 * this phone's clock is taken from the answer with the shortest round trip
 * seen (NTP's rule: the server's time was read about mid-way through it),
 * so a phone whose clock is minutes off still opens the button on time.
 *
 * Buying: with pow_bits > 0 a challenge is fetched and solved in a Web
 * Worker (worker.js: SHA-256(challenge || nonce) with pow_bits leading zero
 * bits), sent as X-Seckill-PoW: <challenge>:<nonce> with the order; then the
 * order is polled until it is confirmed.
 */
'use strict';

(function () {
	var $ = function (id) { return document.getElementById(id); };
	var POLL_MS = 1000, ORDER_POLL_MS = 400, ORDER_POLL_MAX = 150;
	var match = location.pathname.match(/^\/c\/(\d+)\/?$/);
	var id = match ? Number(match[1]) : null;
	var offset = 0, bestRtt = Infinity;
	var camp = null;          /* the campaign as last polled */
	var busy = false;         /* a buy in progress */
	var blockedUntil = 0;     /* after a 429/503: server ms when it may retry */
	var over = false;         /* sold out or closed: the button stays off */

	function serverNow() { return Date.now() + offset; }

	function token() {
		var h = location.hash.match(/[#&]token=([^&]+)/);
		if (h)
			return decodeURIComponent(h[1]);
		var c = document.cookie.match(/(?:^|;\s*)seckill_token=([^;]+)/);
		return c ? decodeURIComponent(c[1]) : null;
	}

	function say(text, kind) {
		var r = $('result');
		r.textContent = text;
		r.className = kind || '';
	}

	/* GET /api/campaigns, and the clock offset from its round trip. */
	function poll() {
		var t0 = Date.now();
		return fetch('/api/campaigns', { cache: 'no-store' }).then(function (r) {
			var t1 = Date.now();
			if (!r.ok)
				throw new Error('status ' + r.status);
			return r.json().then(function (j) {
				if (t1 - t0 <= bestRtt) {
					bestRtt = t1 - t0;
					offset = j.now_ms - (t0 + t1) / 2;
				}
				return j.campaigns;
			});
		});
	}

	function pad(n) { return n < 10 ? '0' + n : String(n); }

	function span(ms) {
		var s = Math.ceil(ms / 1000), d = Math.floor(s / 86400);
		var t = pad(Math.floor(s / 3600) % 24) + ':' + pad(Math.floor(s / 60) % 60) + ':' + pad(s % 60);
		return d > 0 ? d + 'd ' + t : t;
	}

	/* ---- the list (/) ---- */

	function showList(list) {
		var ul = $('campaigns'), shown = 0;
		ul.textContent = '';
		list.forEach(function (c) {
			if (c.state !== 'open' && c.state !== 'scheduled')
				return;
			var li = document.createElement('li'), a = document.createElement('a');
			var name = document.createElement('strong'), when = document.createElement('div');
			a.href = '/c/' + c.id + location.hash;
			name.textContent = 'Sale ' + c.id;
			when.className = 'when';
			when.dataset.startsAt = c.starts_at;
			when.dataset.left = c.left;
			a.appendChild(name);
			a.appendChild(when);
			li.appendChild(a);
			ul.appendChild(li);
			shown++;
			fetch('/c/' + c.id + '/product').then(function (r) {
				return r.ok ? r.json() : null;
			}).then(function (p) {
				if (p && p.name)
					name.textContent = p.name + (p.price ? ' - ' + p.price : '');
			}).catch(function () {});
		});
		$('empty').hidden = shown > 0;
		tickList();
	}

	function tickList() {
		var now = serverNow();
		Array.prototype.forEach.call(document.querySelectorAll('.when'), function (w) {
			var ms = Number(w.dataset.startsAt) - now;
			w.textContent = (ms > 0 ? 'starts in ' + span(ms) : 'open now') +
				' \u00b7 ' + w.dataset.left + ' left';
		});
	}

	function startList() {
		$('list').hidden = false;
		var refresh = function () {
			poll().then(showList).catch(function () {
				$('empty').hidden = false;      /* no sale here, or the network failed */
			});
		};
		refresh();
		setInterval(refresh, 5000);
		setInterval(tickList, 250);
	}

	/* ---- one campaign (/c/{id}) ---- */

	function showProduct(p) {
		if (!p) {
			$('name').textContent = 'Sale ' + id;
			return;
		}
		$('name').textContent = p.name || 'Sale ' + id;
		document.title = (p.name || 'Sale ' + id) + ' - Flash sale';
		$('price').textContent = p.price || '';
		$('description').textContent = p.description || '';
		if (p.image) {
			$('image').src = p.image;
			$('image').alt = p.name || '';
			$('image').hidden = false;
		}
	}

	function tick() {
		var b = $('buy');
		if (!camp) {
			b.disabled = true;
			return;
		}
		var ms = camp.starts_at - serverNow();
		if (ms > 0) {
			$('countdown-label').textContent = 'Starts in';
			$('countdown').textContent = span(ms);
		} else {
			$('countdown-label').textContent = 'Sale';
			$('countdown').textContent = over ? 'over' : 'open now';
		}
		var wait = blockedUntil - serverNow();
		b.disabled = ms > 0 || busy || over || wait > 0;
		b.textContent = wait > 0 ? 'Try again in ' + Math.ceil(wait / 1000) + ' s' : 'Buy now';
	}

	function refreshCampaign() {
		return poll().then(function (list) {
			var c = list.filter(function (x) { return x.id === id; })[0];
			if (!c) {
				camp = null;
				say('There is no such sale.', 'bad');
				return;
			}
			camp = c;
			$('left').textContent = c.left;
			if (c.state === 'closed' && !busy) {
				over = true;
				say('This sale is closed.', 'bad');
			} else if (c.state === 'sold_out' && !busy && !$('result').textContent) {
				over = true;
				say('Sold out: every unit has been taken.', 'bad');
			}
			tick();
		}).catch(function () {});
	}

	function errorCode(r) {
		return r.json().then(function (j) { return j.error || ''; }, function () { return ''; });
	}

	/* What a refused answer means, in plain words. */
	function refused(status, code, retryAfter) {
		if (code === 'sold_out') {
			over = true;
			return say('Sold out: every unit has been taken.', 'bad');
		}
		if (code === 'already_bought')
			return say('You already bought this one: one per buyer.', 'good');
		if (code === 'closed') {
			over = true;
			return say('This sale is closed.', 'bad');
		}
		if (code === 'not_open')
			return say('Not started yet: the button opens when the countdown ends.', 'bad');
		if (status === 429 || status === 503) {
			var s = Math.max(1, Number(retryAfter) || 1);
			blockedUntil = serverNow() + s * 1000;
			return say((status === 429 ? 'Limited: too many tries. ' : 'Busy right now. ') +
				   'Wait ' + s + ' s, then try again.', 'bad');
		}
		if (status === 401)
			return say('Refused: your login is missing or has expired. Log in again.', 'bad');
		if (code === 'pow_required' || code === 'pow_invalid')
			return say('Refused: the browser check did not pass. Try again.', 'bad');
		return say('Refused' + (code ? ' (' + code + ')' : '') + '.', 'bad');
	}

	/* Solves a challenge in a Web Worker: resolves with the nonce. The time
	 * it took, the worker's start included (what the buyer waits), is left on
	 * #result as data-pow-ms and data-pow-tries, and in a console.debug line,
	 * for tests and for anyone measuring a phone. */
	function solve(challenge, bits) {
		return new Promise(function (resolve, reject) {
			var t0 = performance.now();
			var w = new Worker('/worker.js');
			w.onmessage = function (e) {
				var ms = performance.now() - t0;
				w.terminate();
				$('result').dataset.powMs = ms.toFixed(1);
				$('result').dataset.powTries = e.data.tries;
				console.debug('proof of work: ' + bits + ' bits solved in ' + ms.toFixed(1) +
					      ' ms, ' + e.data.tries + ' tries');
				resolve(e.data.nonce);
			};
			w.onerror = function (e) {
				w.terminate();
				reject(new Error(e.message));
			};
			w.postMessage({ challenge: challenge, bits: bits });
		});
	}

	function pollOrder(orderId, n) {
		return fetch('/api/orders/' + orderId, { cache: 'no-store' }).then(function (r) {
			return r.json();
		}).then(function (o) {
			if (o.status === 'confirmed' || o.status === 'paid')
				return say('Confirmed: the unit is yours (order ' + orderId + ').', 'good');
			if (o.status === 'rejected')
				return say('Refused: the order could not be kept (' + (o.reason || 'other') + ').', 'bad');
			if (o.status === 'expired')
				return say('Your order expired: it was not paid in time.', 'bad');
			if (n >= ORDER_POLL_MAX)
				return say('Your order is taken and waits for confirmation (order ' + orderId + ').', 'good');
			return new Promise(function (r) { setTimeout(r, ORDER_POLL_MS); }).then(function () {
				return pollOrder(orderId, n + 1);
			});
		});
	}

	function buy() {
		var tok = token();
		if (!tok)
			return say('Log in first: this page has no buyer token.', 'bad');
		var headers = { Authorization: 'Bearer ' + tok };
		busy = true;
		tick();
		var step = Promise.resolve();
		if (camp.pow_bits > 0) {
			say('Checking this is a person\u2026 (a second or two)');
			step = fetch('/api/campaigns/' + id + '/challenge', { headers: headers, cache: 'no-store' })
				.then(function (r) {
					if (!r.ok)
						return errorCode(r).then(function (code) {
							refused(r.status, code, r.headers.get('Retry-After'));
							throw null;
						});
					return r.json();
				}).then(function (ch) {
					return solve(ch.challenge, ch.bits).then(function (nonce) {
						headers['X-Seckill-PoW'] = ch.challenge + ':' + nonce;
					});
				});
		}
		return step.then(function () {
			say('Placing your order\u2026');
			return fetch('/api/campaigns/' + id + '/orders', {
				method: 'POST', headers: headers, cache: 'no-store'
			});
		}).then(function (r) {
			if (!r.ok)
				return errorCode(r).then(function (code) {
					refused(r.status, code, r.headers.get('Retry-After'));
				});
			return r.json().then(function (o) {
				say('Order placed, waiting for confirmation\u2026', 'good');
				return pollOrder(o.order_id, 0);
			});
		}).catch(function (e) {
			if (e)
				say('Refused: the network failed (' + e.message + '). Try again.', 'bad');
		}).then(function () {
			busy = false;
			tick();
			refreshCampaign();
		});
	}

	function startCampaign() {
		$('campaign').hidden = false;
		fetch('/c/' + id + '/product').then(function (r) {
			return r.ok ? r.json() : null;
		}).then(showProduct, function () { showProduct(null); });
		$('buy').addEventListener('click', function () {
			if (!busy && camp)
				buy();
		});
		refreshCampaign();
		setInterval(refreshCampaign, POLL_MS);
		setInterval(tick, 100);
	}

	if (id !== null)
		startCampaign();
	else
		startList();
})();
