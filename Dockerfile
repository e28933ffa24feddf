# wsecho on the official Deno image, pinned to the version the README uses.
FROM denoland/deno:2.9.6

WORKDIR /app
COPY deno.json ./
COPY src/ ./src/
# Type-check and cache the module graph at build time (wsecho has no third-party imports).
RUN deno cache src/runtime/deno/main.ts

# The image's unprivileged user.
USER deno

ENV PORT=8080 HOST=0.0.0.0
EXPOSE 8080

HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:' + (Deno.env.get('PORT') ?? '8080') + '/healthz'); Deno.exit(r.ok ? 0 : 1)"]

# Exec form, so that SIGTERM from the container runtime reaches Deno (and starts the drain).
# The same command as 'deno task start' (a test keeps the two in step).
ENTRYPOINT ["deno"]
CMD ["run", "--unstable-net", "--allow-net", "--allow-env=HOST,PORT,MAX_MESSAGE,MAX_HEAD,MAX_HEADERS,MAX_TARGET,HANDSHAKE_TIMEOUT,CLOSE_TIMEOUT,PING_INTERVAL,PING_TIMEOUT,MAX_CONNECTIONS,MAX_CONNECTIONS_PER_IP,MAX_BACKPRESSURE,MAX_MEMORY,ALLOWED_ORIGINS,PROTOCOLS,DRAIN_TIMEOUT,LOG_LEVEL,WORKERS,DEFLATE,DEFLATE_WINDOW_BITS,DEFLATE_MEM_LEVEL,DEFLATE_THRESHOLD,DEFLATE_CONTEXT_TAKEOVER", "--allow-read=src", "src/runtime/deno/main.ts"]
