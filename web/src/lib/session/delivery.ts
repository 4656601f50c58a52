// Following a queued message until the recipient's server took it or gave up (SPEC §9.7):
// the status endpoint asked at growing intervals (1 s doubling to 30 s), until `delivered`
// or `failed`. A local recipient's message is `stored` at once and never followed.
import { status, type DeliveryStatus } from "../api/messages";

export function followDelivery(
  id: string,
  credential: () => string,
  update: (status: DeliveryStatus, error: string | null) => Promise<void>,
  stopped: () => boolean,
): void {
  let wait = 1000;
  const tick = async () => {
    if (stopped()) return;
    try {
      const answer = await status(id, credential());
      await update(answer.status, answer.error);
      if (answer.status === "delivered" || answer.status === "failed") return;
    } catch {
      // The server is unreachable for now: ask again later.
    }
    wait = Math.min(30_000, wait * 2);
    setTimeout(tick, wait);
  };
  setTimeout(tick, wait);
}
