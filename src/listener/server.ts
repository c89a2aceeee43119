// /healthz, /readyz and /metrics of the listener.
import express from "express";
import type { Registry } from "prom-client";
import type { Listener } from "./listener.ts";

export function createListenerApp(listener: Pick<Listener, "health">, registry: Registry): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", (_req, res) => {
    const health = listener.health();
    res.status(health.live ? 200 : 503).json({ live: health.live, ...health.detail });
  });
  app.get("/readyz", (_req, res) => {
    const health = listener.health();
    res.status(health.ready ? 200 : 503).json({ ready: health.ready, ...health.detail });
  });
  app.get("/metrics", async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return app;
}
