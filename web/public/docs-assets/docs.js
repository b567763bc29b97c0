// Starts Scalar on /docs with settings that keep every request on this origin: no web fonts,
// no request proxy (try-it calls go straight to this origin, the document's only server),
// no telemetry, no AI agent.
// (Not #api-reference: the bundle mounts itself, with its defaults, on an element of that id.)
Scalar.createApiReference("#reference", {
  url: "/api/openapi.json",
  withDefaultFonts: false,
  telemetry: false,
  agent: { disabled: true },
  mcp: { disabled: true },
  showDeveloperTools: "never",
});
