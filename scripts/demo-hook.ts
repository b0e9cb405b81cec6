/**
 * `npm run demo:hook`: sends the demo hook a freshly signed delivery, as another system would,
 * and prints the gateway's answer. Needs `npm start` running (it made the hook).
 */
import { readDemo, signedDelivery } from "./demo";

const gateway = `http://127.0.0.1:${process.env.PORT ?? 8787}`;
const demo = readDemo();
if (!demo?.hook) {
  console.error("No demo hook yet: run `npm start` first.");
  process.exit(1);
}
const delivery = signedDelivery(demo.hook.secret, { order: { id: process.argv[2] ?? "A-1001" } });
const res = await fetch(`${gateway}/hooks/${demo.hook.id}`, {
  method: "POST",
  headers: delivery.headers,
  body: delivery.body,
});
console.log(res.status, await res.text());
console.log("The result callback is printed by `npm start` as 'inbox demo-callbacks' when the task ends.");
