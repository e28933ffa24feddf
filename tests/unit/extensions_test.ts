// Sec-WebSocket-Extensions parsing and permessage-deflate negotiation (RFC 7692 §5, §7.1).

import assert from "node:assert/strict";
import {
  ExtensionSyntaxError,
  negotiateDeflate,
  parseExtensions,
} from "../../src/http/extensions.ts";
import type { DeflateOptions } from "../../src/protocol/deflate.ts";

const KEEP: DeflateOptions = { windowBits: 15, memLevel: 8, threshold: 0, contextTakeover: true };
const DROP: DeflateOptions = { ...KEEP, contextTakeover: false };

function negotiate(header: string | string[], options = KEEP) {
  return negotiateDeflate(parseExtensions(Array.isArray(header) ? header : [header]), options);
}

Deno.test("parse: several offers, several headers, quoted and unquoted values", () => {
  const offers = parseExtensions([
    'permessage-deflate; client_max_window_bits; server_max_window_bits="10", foo',
    'PerMessage-Deflate ;Server_No_Context_Takeover , x; a="q\\"x"',
  ]);
  assert.deepEqual(offers, [
    {
      name: "permessage-deflate",
      params: [["client_max_window_bits", null], ["server_max_window_bits", "10"]],
    },
    { name: "foo", params: [] },
    { name: "permessage-deflate", params: [["server_no_context_takeover", null]] },
    { name: "x", params: [["a", 'q"x']] },
  ]);
});

Deno.test("parse: empty list elements are skipped", () => {
  assert.deepEqual(parseExtensions([" , permessage-deflate ,, "]), [
    { name: "permessage-deflate", params: [] },
  ]);
});

Deno.test("parse: malformed headers throw with the reason", () => {
  for (
    const bad of [
      "permessage-deflate; =1",
      "permessage-deflate; a=",
      'permessage-deflate; a="open',
      "permessage-deflate x",
      "permessage-deflate;",
      "; a",
      "permessage-deflate; a=b c",
    ]
  ) {
    assert.throws(() => parseExtensions([bad]), ExtensionSyntaxError, bad);
  }
});

Deno.test("negotiate: a plain offer is accepted; the server keeps context when set to", () => {
  const a = negotiate("permessage-deflate")!;
  assert.equal(a.response, "permessage-deflate");
  assert.deepEqual(a.params, {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  });
});

Deno.test("negotiate: without context takeover the server adds both no_context_takeover", () => {
  const a = negotiate("permessage-deflate", DROP)!;
  assert.equal(
    a.response,
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  );
  assert.equal(a.params.serverNoContextTakeover, true);
  assert.equal(a.params.clientNoContextTakeover, true);
});

Deno.test("negotiate: server_no_context_takeover asked is granted and answered", () => {
  const a = negotiate("permessage-deflate; server_no_context_takeover")!;
  assert.equal(a.response, "permessage-deflate; server_no_context_takeover");
  assert.equal(a.params.serverNoContextTakeover, true);
});

Deno.test("negotiate: client_no_context_takeover offered is acknowledged", () => {
  const a = negotiate("permessage-deflate; client_no_context_takeover")!;
  assert.equal(a.response, "permessage-deflate; client_no_context_takeover");
  assert.equal(a.params.clientNoContextTakeover, true);
});

Deno.test("negotiate: server_max_window_bits asked is answered with the same or smaller", () => {
  assert.equal(
    negotiate("permessage-deflate; server_max_window_bits=10")!.response,
    "permessage-deflate; server_max_window_bits=10",
  );
  const small = { ...KEEP, windowBits: 9 };
  const a = negotiate("permessage-deflate; server_max_window_bits=12", small)!;
  assert.equal(a.response, "permessage-deflate; server_max_window_bits=9");
  assert.equal(a.params.serverMaxWindowBits, 9);
});

Deno.test("negotiate: the server limits its own window unasked when configured below 15", () => {
  const a = negotiate("permessage-deflate", { ...KEEP, windowBits: 11 })!;
  assert.equal(a.response, "permessage-deflate; server_max_window_bits=11");
});

Deno.test("negotiate: client_max_window_bits without value, with value, and not offered", () => {
  assert.equal(
    negotiate("permessage-deflate; client_max_window_bits")!.response,
    "permessage-deflate",
  );
  const limited = negotiate("permessage-deflate; client_max_window_bits", {
    ...KEEP,
    windowBits: 10,
  })!;
  assert.equal(
    limited.response,
    "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10",
  );
  assert.equal(limited.params.clientMaxWindowBits, 10);
  const valued = negotiate("permessage-deflate; client_max_window_bits=9")!;
  assert.equal(valued.response, "permessage-deflate; client_max_window_bits=9");
  assert.equal(valued.params.clientMaxWindowBits, 9);
  // Not offered: the client may not be told to limit its window; it uses 15.
  const none = negotiate("permessage-deflate", { ...KEEP, windowBits: 10 })!;
  assert.equal(none.params.clientMaxWindowBits, 15);
  assert.ok(!none.response.includes("client_max_window_bits"));
});

Deno.test("negotiate: an invalid offer is declined and the next valid one accepted", () => {
  const invalid = [
    "permessage-deflate; server_max_window_bits", // needs a value
    "permessage-deflate; server_max_window_bits=7",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; server_max_window_bits=010", // no leading zero
    "permessage-deflate; client_max_window_bits=0",
    "permessage-deflate; server_no_context_takeover=1", // takes no value
    "permessage-deflate; client_no_context_takeover=x",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover", // twice
    "permessage-deflate; unknown_param",
  ];
  for (const offer of invalid) {
    assert.equal(negotiate(offer), null, offer);
    const next = negotiate([offer, "permessage-deflate; server_max_window_bits=12"]);
    assert.equal(next?.response, "permessage-deflate; server_max_window_bits=12", offer);
  }
});

Deno.test("negotiate: quoted values are unquoted before they are checked", () => {
  assert.equal(
    negotiate('permessage-deflate; server_max_window_bits="11"')!.params.serverMaxWindowBits,
    11,
  );
  assert.equal(negotiate('permessage-deflate; server_max_window_bits="1 1"'), null);
});

Deno.test("negotiate: other extensions are ignored; none offered gives none", () => {
  assert.equal(negotiate("x-webkit-deflate-frame"), null);
  assert.equal(negotiate([]), null);
  assert.equal(negotiate("foo, permessage-deflate")!.response, "permessage-deflate");
});
