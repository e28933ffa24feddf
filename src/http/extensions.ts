// Sec-WebSocket-Extensions (RFC 6455 §9.1) and the negotiation of permessage-deflate
// (RFC 7692 §5, §7.1). Pure: header values and the server's settings in, the parameters in force
// and the response header out.

import type { DeflateOptions, DeflateParams } from "../protocol/deflate.ts";

/** One offered extension: its name and parameters in order (value null: none given). */
export interface ExtensionOffer {
  name: string;
  params: [string, string | null][];
}

/** A Sec-WebSocket-Extensions header that does not follow the grammar. */
export class ExtensionSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExtensionSyntaxError";
  }
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses every Sec-WebSocket-Extensions value (several headers make one list) into offers in
 * order. Names are lowercased; quoted values are unescaped. Empty list elements are skipped.
 * Throws ExtensionSyntaxError for anything else the grammar does not allow.
 */
export function parseExtensions(values: readonly string[]): ExtensionOffer[] {
  const offers: ExtensionOffer[] = [];
  for (const value of values) {
    let i = 0;
    const n = value.length;
    const skipOws = () => {
      while (i < n && (value[i] === " " || value[i] === "\t")) i++;
    };
    const token = (what: string): string => {
      const start = i;
      while (i < n && TCHAR.test(value[i])) i++;
      if (i === start) {
        throw new ExtensionSyntaxError(
          i < n ? `expected ${what}, found '${value[i]}'` : `expected ${what}`,
        );
      }
      return value.slice(start, i);
    };
    for (;;) {
      skipOws();
      if (i >= n) break;
      if (value[i] === ",") { // an empty element
        i++;
        continue;
      }
      const offer: ExtensionOffer = { name: token("an extension name").toLowerCase(), params: [] };
      offers.push(offer);
      skipOws();
      while (i < n && value[i] === ";") {
        i++;
        skipOws();
        const name = token("a parameter name").toLowerCase();
        skipOws();
        let v: string | null = null;
        if (value[i] === "=") {
          i++;
          skipOws();
          if (value[i] === '"') {
            i++;
            v = "";
            for (;;) {
              if (i >= n) throw new ExtensionSyntaxError("unterminated quoted string");
              const c = value[i++];
              if (c === '"') break;
              if (c === "\\") {
                if (i >= n) throw new ExtensionSyntaxError("unterminated quoted string");
                v += value[i++];
              } else v += c;
            }
          } else {
            v = token("a parameter value");
          }
          skipOws();
        }
        offer.params.push([name, v]);
      }
      if (i >= n) break;
      if (value[i] !== ",") {
        throw new ExtensionSyntaxError(`unexpected '${value[i]}' after extension '${offer.name}'`);
      }
      i++;
    }
  }
  return offers;
}

/** The outcome of negotiating permessage-deflate: the parameters and the response header. */
export interface DeflateAgreement {
  params: DeflateParams;
  /** The Sec-WebSocket-Extensions response value. */
  response: string;
}

const WINDOW_BITS = /^(8|9|1[0-5])$/;

/**
 * The permessage-deflate offer to accept: the first one whose parameters are valid (RFC 7692
 * §7.1: known names, each at most once, values where allowed and in range), answered with the
 * parameters then in force. Null when none is (the extension is declined, not the upgrade).
 */
export function negotiateDeflate(
  offers: readonly ExtensionOffer[],
  options: DeflateOptions,
): DeflateAgreement | null {
  for (const offer of offers) {
    if (offer.name !== "permessage-deflate") continue;
    const agreed = acceptOffer(offer, options);
    if (agreed !== null) return agreed;
  }
  return null;
}

function acceptOffer(offer: ExtensionOffer, options: DeflateOptions): DeflateAgreement | null {
  const seen = new Set<string>();
  let serverNoContext = false, clientNoContext = false;
  let serverBits: number | null = null;
  let clientBits: number | "any" | null = null; // "any": offered without a value
  for (const [name, value] of offer.params) {
    if (seen.has(name)) return null; // §7.1: a parameter given twice makes the offer invalid
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== null) return null; // these take no value
        if (name === "server_no_context_takeover") serverNoContext = true;
        else clientNoContext = true;
        break;
      case "server_max_window_bits":
        if (value === null || !WINDOW_BITS.test(value)) return null;
        serverBits = Number(value);
        break;
      case "client_max_window_bits":
        if (value === null) clientBits = "any";
        else if (!WINDOW_BITS.test(value)) return null;
        else clientBits = Number(value);
        break;
      default:
        return null; // an unknown parameter: this offer cannot be accepted
    }
  }
  const params: DeflateParams = {
    // The server may drop its own context even when not asked to (§7.1.1.1), and may tell the
    // client to drop its context (§7.1.1.2).
    serverNoContextTakeover: serverNoContext || !options.contextTakeover,
    clientNoContextTakeover: clientNoContext || !options.contextTakeover,
    // The server may limit its window on its own (§7.1.2.1), never beyond what was asked.
    serverMaxWindowBits: Math.min(options.windowBits, serverBits ?? 15),
    // The client's window can be limited only if it said it supports that (§7.1.2.2).
    clientMaxWindowBits: clientBits === null
      ? 15
      : Math.min(options.windowBits, clientBits === "any" ? 15 : clientBits),
  };
  let response = "permessage-deflate";
  if (params.serverNoContextTakeover) response += "; server_no_context_takeover";
  if (params.clientNoContextTakeover) response += "; client_no_context_takeover";
  if (serverBits !== null || params.serverMaxWindowBits < 15) {
    response += `; server_max_window_bits=${params.serverMaxWindowBits}`;
  }
  if (clientBits !== null && (clientBits !== "any" || params.clientMaxWindowBits < 15)) {
    response += `; client_max_window_bits=${params.clientMaxWindowBits}`;
  }
  return { params, response };
}
