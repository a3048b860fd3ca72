/*
 * worker.js - solves a proof-of-work challenge off the page's thread
 * (lib/sale/pow.h): finds a nonce of [0-9a-z] such that
 * SHA-256(challenge || nonce) starts with `bits` zero bits.
 *
 * SHA-256 is written out here because crypto.subtle exists only in secure
 * contexts (https, localhost), and the sale may be served over plain http
 * behind a CDN or on a test address; it is also far faster for this job
 * than one promise per hash. The challenge's full 64-byte blocks are hashed
 * once; each try hashes only the last block or two.
 *
 * In: {challenge, bits}. Out: {nonce, tries}.
 */
'use strict';

var K = new Int32Array([
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
var IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
var W = new Int32Array(64);

/* One compression of the 64 bytes at m[off..] into state h (8 ints). */
function compress(h, m, off) {
	var i, a, b, c, d, e, f, g, hh, t1, t2, x, y;
	for (i = 0; i < 16; i++)
		W[i] = (m[off + 4 * i] << 24) | (m[off + 4 * i + 1] << 16) | (m[off + 4 * i + 2] << 8) | m[off + 4 * i + 3];
	for (i = 16; i < 64; i++) {
		x = W[i - 15];
		y = W[i - 2];
		W[i] = (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + W[i - 16] +
			(((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + W[i - 7] | 0;
	}
	a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
			((e & f) ^ (~e & g)) + K[i] + W[i] | 0;
		t2 = (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
			((a & b) ^ (a & c) ^ (b & c)) | 0;
		hh = g; g = f; f = e; e = d + t1 | 0; d = c; c = b; b = a; a = t1 + t2 | 0;
	}
	h[0] = h[0] + a | 0; h[1] = h[1] + b | 0; h[2] = h[2] + c | 0; h[3] = h[3] + d | 0;
	h[4] = h[4] + e | 0; h[5] = h[5] + f | 0; h[6] = h[6] + g | 0; h[7] = h[7] + hh | 0;
}

/* Whether the digest in h starts with bits zero bits. */
function zeros(h, bits) {
	for (var i = 0; bits > 0; i++, bits -= 32) {
		var mask = bits >= 32 ? -1 : ~(-1 >>> bits);
		if ((h[i] & mask) !== 0)
			return false;
	}
	return true;
}

function solve(challenge, bits) {
	var enc = new TextEncoder().encode(challenge);
	var full = enc.length - enc.length % 64;
	var mid = new Int32Array(IV);
	for (var off = 0; off < full; off += 64)
		compress(mid, enc, off);
	var rest = enc.subarray(full);
	var buf = new Uint8Array(128), h = new Int32Array(8);
	for (var n = 0; ; n++) {
		var nonce = n.toString(36);
		var len = rest.length + nonce.length;
		var blocks = len + 9 <= 64 ? 1 : 2;
		var i;
		buf.fill(0);
		buf.set(rest, 0);
		for (i = 0; i < nonce.length; i++)
			buf[rest.length + i] = nonce.charCodeAt(i);
		buf[len] = 0x80;
		var bitlen = (enc.length + nonce.length) * 8, end = blocks * 64;
		buf[end - 4] = (bitlen >>> 24) & 255;
		buf[end - 3] = (bitlen >>> 16) & 255;
		buf[end - 2] = (bitlen >>> 8) & 255;
		buf[end - 1] = bitlen & 255;
		h.set(mid);
		compress(h, buf, 0);
		if (blocks === 2)
			compress(h, buf, 64);
		if (zeros(h, bits))
			return { nonce: nonce, tries: n + 1 };
	}
}

/* Self-check against FIPS 180-2's "abc" before trusting an answer. */
function selfTest() {
	var h = new Int32Array(IV), b = new Uint8Array(64);
	b.set([0x61, 0x62, 0x63, 0x80]);
	b[63] = 24;
	compress(h, b, 0);
	return (h[0] >>> 0) === 0xba7816bf && (h[7] >>> 0) === 0xf20015ad;
}

onmessage = function (e) {
	if (!selfTest())
		throw new Error('SHA-256 self-test failed');
	postMessage(solve(e.data.challenge, e.data.bits));
};
