//! Prints N distinct free TCP ports on 127.0.0.1, on one line (scripts/lib.sh's free_ports).
//!
//! Usage: node scripts/free-ports.mjs [N]   (default 1)
//!
//! All N listen at once before any is closed, so they differ from each other (picking them one
//! by one can return the same port twice).

import { createServer } from "node:net";

const count = Number(process.argv[2] ?? 1);
const servers = [];
for (let i = 0; i < count; i++) {
    const server = createServer();
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
}
console.log(servers.map((server) => server.address().port).join(" "));
for (const server of servers) server.close();
