// The JavaScript DataLake SDK (@azure/storage-file-datalake, pinned in package.json) driven through one
// realistic sequence against the local DFS endpoint. Prints one JSON object: step name -> what it saw.
// Usage: node datalake_steps.mjs <dfs url incl. account> <account> <key> <filesystem> <second filesystem>
import { DataLakeServiceClient, StorageSharedKeyCredential } from "@azure/storage-file-datalake";

const [url, account, key, fsName, otherName] = process.argv.slice(2);
const service = new DataLakeServiceClient(url, new StorageSharedKeyCredential(account, key), {
  retryOptions: { maxTries: 1 },
});
const fs = service.getFileSystemClient(fsName);
const other = service.getFileSystemClient(otherName);
const seen = {};

async function failure(promise) {
  try {
    await promise;
    return "no error";
  } catch (error) {
    return { status: error.statusCode, code: error.code ?? error.details?.errorCode };
  }
}

async function names(client) {
  const found = [];
  for await (const path of client.listPaths({ recursive: true })) {
    found.push([path.name, path.isDirectory === true]);
  }
  return found;
}

async function text(fileClient) {
  const body = await fileClient.readToBuffer();
  return body.toString("utf8");
}

await fs.create();
await other.create();
await fs.getDirectoryClient("raw/2024").create();
const file = fs.getFileClient("raw/2024/orders.csv");
await file.create();
const content = Buffer.from("id,amount\n1,9.5\n");
await file.append(content, 0, content.length);
await file.flush(content.length);
seen.list = await names(fs);
const properties = await file.getProperties();
seen.stat = { size: properties.contentLength, isDirectory: properties.metadata?.hdi_isfolder === "true" };
seen.read = await text(file);
seen.missing = await failure(fs.getFileClient("raw/nope.csv").getProperties());
seen.missingExists = await fs.getFileClient("raw/nope.csv").exists();
seen.missingRead = await failure(fs.getFileClient("raw/nope.csv").read());

await file.move("raw/2024/orders-renamed.csv");
await fs.getDirectoryClient("raw/2024").move("raw/y2024");
seen.afterRenames = await names(fs);
await fs.getFileClient("raw/y2024/orders-renamed.csv").move(otherName, "moved.csv");
seen.acrossFilesystems = { source: await names(fs), destination: await names(other) };
seen.readMoved = await text(other.getFileClient("moved.csv"));

await other.getFileClient("moved.csv").delete();
await fs.getDirectoryClient("raw").delete(true);
seen.afterDeletes = { source: await names(fs), destination: await names(other) };
seen.missingDelete = await failure(fs.getFileClient("raw/nope.csv").delete());

await fs.delete();
await other.delete();
console.log(JSON.stringify(seen));
