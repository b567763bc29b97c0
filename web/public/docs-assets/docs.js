// Starts Scalar on /docs with settings that keep every request on this origin: no web
// fonts, no request proxy (try-it calls go straight to the same origin), no telemetry.
Scalar.createApiReference("#api-reference", {
  url: "/api/openapi.json",
  withDefaultFonts: false,
  proxyUrl: undefined,
  telemetry: false,
  hideClientButton: true,
  servers: [{ url: location.origin, description: "This server" }],
  metaData: { title: "API reference · storagetiers" },
});
