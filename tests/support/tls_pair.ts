// A throwaway self-signed certificate for 127.0.0.1 and localhost, made with openssl for a test.

/** True when openssl can be run (tests that need a certificate are skipped without it). */
export const HAVE_OPENSSL: boolean = (() => {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
})();

/** A certificate pair's files and the certificate's PEM text (to trust it as a CA). */
export interface TlsPair {
  certFile: string;
  keyFile: string;
  certPem: string;
}

/**
 * Writes a new P-256 key and a self-signed certificate (CA:FALSE, which rustls needs of an
 * end-entity certificate; SAN 127.0.0.1 and localhost) as cert.pem and key.pem in `dir`.
 */
export async function makeTlsPair(dir: string, name = "wsecho-test"): Promise<TlsPair> {
  const certFile = `${dir}/cert.pem`, keyFile = `${dir}/key.pem`;
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`openssl: ${new TextDecoder().decode(out.stderr)}`);
  return { certFile, keyFile, certPem: await Deno.readTextFile(certFile) };
}
