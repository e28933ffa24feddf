// The README's deploy text says what the files do: the docker run port is the image's, the Fly
// figures it quotes are fly.toml's, and the commands it shows are the tasks that exist.

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, ROOT));

Deno.test("README: docker build/run with the image's port, Fly figures from fly.toml", async () => {
  const readme = await read("README.md");
  const docker = await read("Dockerfile");
  const fly = await read("fly.toml");
  const expose = /^EXPOSE (\d+)$/m.exec(docker)?.[1];
  assert.ok(expose !== undefined, "no EXPOSE in the Dockerfile");
  assert.match(readme, /^docker build -t wsecho \.$/m);
  assert.match(readme, new RegExp(`^docker run --rm -p ${expose}:${expose} wsecho`, "m"));
  assert.match(fly, new RegExp(`internal_port = ${expose}\\b`));
  const region = /^primary_region = "(\w+)"$/m.exec(fly)?.[1];
  assert.ok(readme.includes(`\`${region}\``), `README does not name the region ${region}`);
  const kill = /^kill_timeout = "(\d+)s"$/m.exec(fly)?.[1];
  assert.ok(
    readme.includes(`gives the drain ${kill} s (\`kill_timeout\`)`),
    `kill_timeout ${kill}`,
  );
  for (const cmd of ["fly launch --copy-config", "fly deploy"]) {
    assert.ok(readme.includes(cmd), cmd);
  }
});

Deno.test("README: every `deno task X` it shows is a task in deno.json", async () => {
  const readme = await read("README.md");
  const tasks = Object.keys(JSON.parse(await read("deno.json")).tasks);
  const shown = new Set([...readme.matchAll(/deno(?:@[\d.]+)? task ([\w:]+)/g)].map((m) => m[1]));
  assert.ok(shown.size > 0);
  for (const t of shown) assert.ok(tasks.includes(t), `README shows deno task ${t}`);
});
