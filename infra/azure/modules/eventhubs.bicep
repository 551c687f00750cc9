// Event Hubs: a Standard namespace, the reviews hub with its consumer groups, and Capture into landing.
// Capture writes Avro with a user-assigned identity (no storage key), in the path layout that
// ingestion/reviews.py and infra/eventhubs/capture.py read: eventhubs/{Namespace}/{EventHub}/...

@description('Namespace name (evhns-<workload>-<env>-<suffix>); it is the {Namespace} of the Capture path.')
param name string

param location string
param tags object

@description('Hub the reviews are sent to (infra/settings.py reviews_hub).')
param hubName string

@description('Partitions of the hub (infra/Config.json PartitionCount).')
@minValue(1)
@maxValue(32)
param partitionCount int

@description('Consumer groups besides $Default (infra/Config.json ConsumerGroups).')
param consumerGroups array

@description('Days events are kept (infra/settings.py eventhubs_retention_hours / 24).')
@minValue(1)
@maxValue(7)
param messageRetentionInDays int

@description('Throughput units (Standard: 1-40).')
@minValue(1)
@maxValue(40)
param capacity int

@description('Capture archive name format; every {token} is mandatory, the eventhubs/ prefix is static text.')
param captureArchiveNameFormat string

@description('Capture time window in seconds (infra/settings.py capture_window_seconds; Azure allows 60-900).')
@minValue(60)
@maxValue(900)
param captureIntervalSeconds int

@description('Capture size window in bytes (infra/settings.py capture_window_bytes; 10-500 MiB).')
@minValue(10485760)
@maxValue(524288000)
param captureSizeLimitBytes int

@description('Write no file for an empty window (infra/settings.py capture_skip_empty).')
param captureSkipEmptyArchives bool

@description('Resource id of the storage account Capture writes to.')
param storageAccountId string

@description('Container Capture writes to (the landing zone).')
param captureContainer string

@description('Resource id of the user-assigned identity Capture writes with (Storage Blob Data Contributor).')
param captureIdentityId string

@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string

param logAnalyticsWorkspaceId string

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: capacity
  }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${captureIdentityId}': {}
    }
  }
  properties: {
    // Entra ID only: the azure profile signs in with DefaultAzureCredential, never with a SAS key.
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: publicNetworkAccess
    isAutoInflateEnabled: false
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: hubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
    captureDescription: {
      enabled: true
      encoding: 'Avro'
      intervalInSeconds: captureIntervalSeconds
      sizeLimitInBytes: captureSizeLimitBytes
      skipEmptyArchives: captureSkipEmptyArchives
      destination: {
        name: 'EventHubArchive.AzureBlockBlob'
        identity: {
          type: 'UserAssigned'
          userAssignedIdentity: captureIdentityId
        }
        properties: {
          storageAccountResourceId: storageAccountId
          blobContainer: captureContainer
          archiveNameFormat: captureArchiveNameFormat
        }
      }
    }
  }
}

resource groups 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = [
  for group in consumerGroups: {
    parent: hub
    name: group
    properties: {
      userMetadata: 'lakehouse consumer group (infra/Config.json)'
    }
  }
]

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: namespace
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output id string = namespace.id
output name string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output hubName string = hub.name
output consumerGroups array = [for (group, i) in consumerGroups: groups[i].name]
