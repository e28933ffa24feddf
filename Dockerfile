# wsecho on the official Deno image, pinned to the version the README uses.
FROM denoland/deno:2.9.6

WORKDIR /app
COPY deno.json ./
COPY src/ ./src/
# Load the server's module graph once at build time, so that a missing or misspelt import fails
# the build rather than the first start. Nothing is downloaded (wsecho has no third-party
# imports) and nothing is type-checked (that is `deno task check`, run by the tests and CI).
RUN deno cache src/runtime/deno/main.ts

# Run as the image's unprivileged user, not root.
USER deno

# Listen on every interface of the container, on the port fly.toml and `docker run -p` expect.
ENV PORT=8080 HOST=0.0.0.0
EXPOSE 8080

# Docker's own health check (Fly uses fly.toml's): /healthz answers 503 while draining.
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:' + (Deno.env.get('PORT') ?? '8080') + '/healthz'); Deno.exit(r.ok ? 0 : 1)"]

# Exec form, so that SIGTERM from the container runtime reaches Deno (and starts the drain).
# The same command as 'deno task start' (a test keeps the two in step): -q hides Deno's own
# diagnostics, -P=server takes the permissions from deno.json's "server" set (network, wsecho's
# environment variables by name, reading src/). Logs are JSON lines: stdout is not a terminal.
ENTRYPOINT ["deno"]
CMD ["run", "-q", "-P=server", "src/runtime/deno/main.ts"]
