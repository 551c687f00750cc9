// User-assigned managed identities: who does what, with no secret anywhere.
//   runtime - the flow runs (DataLake SDK, Spark ABFS OAuth, Event Hubs producer, Key Vault secret)
//   capture - Event Hubs Capture writing Avro into landing
//   worker  - the Prefect worker that starts a container group per flow run

param runtimeName string
param captureName string
param workerName string
param location string
param tags object

resource runtime 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: runtimeName
  location: location
  tags: tags
}

resource capture 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: captureName
  location: location
  tags: tags
}

resource worker 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: workerName
  location: location
  tags: tags
}

output runtimeId string = runtime.id
output runtimeClientId string = runtime.properties.clientId
output runtimePrincipalId string = runtime.properties.principalId
output captureId string = capture.id
output capturePrincipalId string = capture.properties.principalId
output workerId string = worker.id
output workerClientId string = worker.properties.clientId
output workerPrincipalId string = worker.properties.principalId
