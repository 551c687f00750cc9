// One environment of the lakehouse on Azure (resource group scope), for LAKEHOUSE_PROFILE=azure.
//   az deployment group create -g <rg> -f infra/azure/main.bicep -p @infra/azure/parameters/dev.json
// `lakehouse azure plan` prints the full command; `lakehouse azure env` turns the outputs into .env.
//
// Names follow the Cloud Adoption Framework abbreviations: <type>-<workload>-<env>[-<suffix>], with a
// suffix from the resource group id where the name must be globally unique.
// The values the code reads (containers, hub, partitions, consumer groups, Capture path and window) are
// defaults here, taken from infra/settings.py and infra/Config.json; tests/infra/azure/test_drift.py holds
// them equal.

targetScope = 'resourceGroup'

@allowed([
  'dev'
  'prod'
])
param environmentName string

param location string = resourceGroup().location

@description('Workload name: the middle part of every resource name.')
@minLength(2)
@maxLength(10)
param workload string = 'lakehouse'

@description('Tags every resource carries (merged over the defaults below).')
param tags object = {}

@description('Owner tag: a team or an address a platform team can reach.')
param owner string

@description('Cost centre tag.')
param costCenter string

// --- lake ----------------------------------------------------------------------------------------------
@description('Zone containers (infra/settings.py *_container).')
param landingContainer string = 'landing'
param bronzeContainer string = 'bronze'
param silverContainer string = 'silver'
param goldContainer string = 'gold'

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param storageSku string = 'Standard_ZRS'

@description('Shared-key access on the lake. The azure profile signs in with Entra ID only: keep false.')
param allowSharedKeyAccess bool = false

@minValue(1)
@maxValue(365)
param softDeleteDays int = 7

@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

// --- Event Hubs ------------------------------------------------------------------------------------------
@description('Reviews hub (infra/settings.py reviews_hub).')
param reviewsHub string = 'product-reviews'

@description('Partitions (infra/Config.json PartitionCount).')
param partitionCount int = 4

@description('Consumer groups (infra/Config.json ConsumerGroups).')
param consumerGroups array = [
  'lakehouse'
  'analytics'
]

@description('Retention in days (infra/settings.py eventhubs_retention_hours = 24).')
param messageRetentionInDays int = 1

@minValue(1)
@maxValue(40)
param throughputUnits int = 1

@description('Capture time window in seconds (infra/settings.py capture_window_seconds).')
param captureWindowSeconds int = 60

@description('Capture size window in bytes (infra/settings.py capture_window_bytes = 300 MiB).')
param captureWindowBytes int = 314572800

@description('No file for an empty window (infra/settings.py capture_skip_empty).')
param captureSkipEmpty bool = true

// --- secrets, compute ------------------------------------------------------------------------------------
@secure()
@description('The app_events API token; leave empty and set the Key Vault secret out of band.')
param apiToken string = ''

@description('Host and port of the app_events HTTP API (LAKEHOUSE_API_HOST / LAKEHOUSE_API_PORT).')
param apiHost string
param apiPort int = 8087

@description('Prefect API URL the worker and the flow runs report to.')
param prefectApiUrl string

@description('True for Prefect Cloud: the worker reads PREFECT_API_KEY from Key Vault secret prefect-api-key.')
param usePrefectApiKey bool = true

@description('Work pool of type azure-container-instance.')
param workPoolName string = 'lakehouse-aci'

param workerImage string = 'prefecthq/prefect:3.8.8-python3.11'

@description('prefect-azure 0.4.13: the newest release, and the one that supports Prefect 3.8.')
param prefectAzurePackage string = 'prefect-azure==0.4.13'

@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param registrySku string = 'Basic'

@description('Deploy Azure Databricks (+ an Access Connector on the lake) for the medallion at scale.')
param deployDatabricks bool = false

@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Daily Log Analytics cap in GB; -1 = none.')
param logDailyQuotaGb int = -1

@description('Object ids (e.g. an analysts group) that may read the lake (Storage Blob Data Reader).')
param readerPrincipalIds array = []

// --- names -----------------------------------------------------------------------------------------------
var base = '${workload}-${environmentName}'
var suffix = take(uniqueString(resourceGroup().id), 6)
var compact = replace(workload, '-', '')
var names = {
  log: 'log-${base}'
  storage: take('st${compact}${environmentName}${suffix}', 24)
  eventHubs: 'evhns-${base}-${suffix}'
  keyVault: take('kv-${base}-${suffix}', 24)
  registry: take('cr${compact}${environmentName}${suffix}', 50)
  runtimeIdentity: 'id-${base}-runtime'
  captureIdentity: 'id-${base}-capture'
  workerIdentity: 'id-${base}-worker'
  containerEnvironment: 'cae-${base}'
  workerApp: 'ca-${base}-worker'
  databricks: 'dbw-${base}'
  accessConnector: 'dbac-${base}'
}
var defaultTags = {
  workload: workload
  environment: environmentName
  owner: owner
  costCenter: costCenter
  managedBy: 'bicep'
  repository: 'azure-lakehouse'
}
var allTags = union(defaultTags, tags)
var zoneContainers = [
  landingContainer
  bronzeContainer
  silverContainer
  goldContainer
]
// The path the code reads: infra/eventhubs/capture.py capture_path() and ingestion/reviews.py CAPTURE_ROOT.
var captureArchiveNameFormat = 'eventhubs/{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}'
var apiTokenSecretName = 'app-events-api-token'

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    name: names.log
    location: location
    tags: allTags
    retentionInDays: logRetentionDays
    dailyQuotaGb: logDailyQuotaGb
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    runtimeName: names.runtimeIdentity
    captureName: names.captureIdentity
    workerName: names.workerIdentity
    location: location
    tags: allTags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: allTags
    containerNames: zoneContainers
    skuName: storageSku
    allowSharedKeyAccess: allowSharedKeyAccess
    softDeleteDays: softDeleteDays
    publicNetworkAccess: publicNetworkAccess
    logAnalyticsWorkspaceId: monitoring.outputs.id
    capturePrincipalId: identity.outputs.capturePrincipalId
    deleteLock: environmentName == 'prod'
  }
}

module eventHubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  params: {
    name: names.eventHubs
    location: location
    tags: allTags
    hubName: reviewsHub
    partitionCount: partitionCount
    consumerGroups: consumerGroups
    messageRetentionInDays: messageRetentionInDays
    capacity: throughputUnits
    captureArchiveNameFormat: captureArchiveNameFormat
    captureIntervalSeconds: captureWindowSeconds
    captureSizeLimitBytes: captureWindowBytes
    captureSkipEmptyArchives: captureSkipEmpty
    // storage.outputs.id is read only after the storage module (and its Capture role assignment) is done.
    storageAccountId: storage.outputs.id
    captureContainer: landingContainer
    captureIdentityId: identity.outputs.captureId
    publicNetworkAccess: publicNetworkAccess
    logAnalyticsWorkspaceId: monitoring.outputs.id
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: names.keyVault
    location: location
    tags: allTags
    softDeleteRetentionInDays: environmentName == 'prod' ? 90 : 7
    publicNetworkAccess: publicNetworkAccess
    apiTokenSecretName: apiTokenSecretName
    apiToken: apiToken
    logAnalyticsWorkspaceId: monitoring.outputs.id
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  params: {
    name: names.registry
    location: location
    tags: allTags
    skuName: registrySku
    logAnalyticsWorkspaceId: monitoring.outputs.id
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    storageAccountName: storage.outputs.name
    eventHubsNamespaceName: eventHubs.outputs.name
    keyVaultName: keyVault.outputs.name
    registryName: registry.outputs.name
    runtimeIdentityName: names.runtimeIdentity
    runtimePrincipalId: identity.outputs.runtimePrincipalId
    workerPrincipalId: identity.outputs.workerPrincipalId
    readerPrincipalIds: readerPrincipalIds
  }
}

module compute 'modules/compute.bicep' = {
  name: 'compute'
  dependsOn: [
    roles
  ]
  params: {
    location: location
    tags: allTags
    environmentName: names.containerEnvironment
    workerAppName: names.workerApp
    logAnalyticsWorkspaceName: monitoring.outputs.name
    workerIdentityId: identity.outputs.workerId
    workerIdentityClientId: identity.outputs.workerClientId
    workerImage: workerImage
    prefectAzurePackage: prefectAzurePackage
    workPoolName: workPoolName
    prefectApiUrl: prefectApiUrl
    usePrefectApiKey: usePrefectApiKey
    keyVaultUri: keyVault.outputs.uri
    prefectApiKeySecretName: 'prefect-api-key'
  }
}

module databricks 'modules/databricks.bicep' = if (deployDatabricks) {
  name: 'databricks'
  params: {
    workspaceName: names.databricks
    accessConnectorName: names.accessConnector
    location: location
    tags: allTags
    managedResourceGroupName: 'rg-${base}-databricks-managed'
    storageAccountName: storage.outputs.name
    logAnalyticsWorkspaceId: monitoring.outputs.id
  }
}

// --- outputs ---------------------------------------------------------------------------------------------
@description('The azure profile: what `lakehouse azure env` writes to .env (names only, no secret).')
output lakehouseEnv object = {
  LAKEHOUSE_PROFILE: 'azure'
  LAKEHOUSE_STORAGE_ACCOUNT: storage.outputs.name
  LAKEHOUSE_LANDING_CONTAINER: landingContainer
  LAKEHOUSE_BRONZE_CONTAINER: bronzeContainer
  LAKEHOUSE_SILVER_CONTAINER: silverContainer
  LAKEHOUSE_GOLD_CONTAINER: goldContainer
  LAKEHOUSE_EVENTHUBS_NAMESPACE: eventHubs.outputs.name
  LAKEHOUSE_EVENTHUBS_FULLY_QUALIFIED_NAMESPACE: eventHubs.outputs.fullyQualifiedNamespace
  LAKEHOUSE_REVIEWS_HUB: eventHubs.outputs.hubName
  LAKEHOUSE_CAPTURE_WINDOW_SECONDS: string(captureWindowSeconds)
  LAKEHOUSE_API_HOST: apiHost
  LAKEHOUSE_API_PORT: string(apiPort)
  LAKEHOUSE_MANAGED_IDENTITY_CLIENT_ID: identity.outputs.runtimeClientId
}

@description('What the deploy workflow needs to build, push and register the flows (no secret).')
output platform object = {
  subscriptionId: subscription().subscriptionId
  resourceGroup: resourceGroup().name
  registryLoginServer: registry.outputs.loginServer
  runtimeIdentityId: identity.outputs.runtimeId
  runtimeIdentityClientId: identity.outputs.runtimeClientId
  keyVaultName: keyVault.outputs.name
  keyVaultUri: keyVault.outputs.uri
  apiTokenSecretName: apiTokenSecretName
  workPoolName: workPoolName
  workerApp: compute.outputs.workerAppName
  logAnalyticsWorkspaceId: monitoring.outputs.id
  databricksUrl: deployDatabricks ? databricks.outputs.workspaceUrl : ''
}
