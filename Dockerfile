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
  CMD ["run", "-q", "-P=server", "src/runtime/deno/main.ts"]

# Exec form, so that SIGTERM from the container runtime reaches Deno (and starts the drain).
# The same command as 'deno task start' (a test keeps the two in step).
ENTRYPOINT ["deno"]
CMD ["run", "-q", "-P=server", "src/runtime/deno/main.ts"]
