// The JavaScript SDK's own partition-key mapping (its buffered producer's port of the service code), for
// keys read as a JSON array from stdin: prints {"<count>": [partition index per key]} for counts in argv.
"use strict";
const path = require("node:path");

// The mapper is internal to @azure/event-hubs (not in its export map), so it is loaded by file path.
const packageDir = path.dirname(require.resolve("@azure/event-hubs/package.json"));
const { mapPartitionKeyToId } = require(path.join(packageDir, "dist/commonjs/impl/partitionKeyToIdMapper.js"));

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const keys = JSON.parse(input);
  const result = {};
  for (const count of process.argv.slice(2).map(Number)) {
    result[count] = keys.map((key) => mapPartitionKeyToId(key, count));
  }
  process.stdout.write(JSON.stringify(result));
});
