// Serves fauxqs (in memory, no persistence, no request log) on 127.0.0.1 on a
// free port for the hot-path benchmark; prints `listening on HOST:PORT` and
// exits when stdin closes. Usage: node serve.mjs <fauxqs install dir>
import path from "node:path";
import { pathToFileURL } from "node:url";

const dist = path.join(process.argv[2], "node_modules", "fauxqs", "dist");
const load = (file) => import(pathToFileURL(path.join(dist, file)).href);
const { buildApp } = await load("app.js");
const { SqsStore } = await load("sqs/sqsStore.js");
const { SnsStore } = await load("sns/snsStore.js");
const { S3Store } = await load("s3/s3Store.js");

const app = buildApp({
  logger: false,
  stores: { sqsStore: new SqsStore(), snsStore: new SnsStore(), s3Store: new S3Store() },
});
const address = await app.listen({ port: 0, host: "127.0.0.1" });
console.log(`listening on ${new URL(address).host}`);
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
