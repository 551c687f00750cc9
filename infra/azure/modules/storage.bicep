// The lake: one ADLS Gen2 account (hierarchical namespace on) with a container per zone.
// No key is needed by the azure profile: the DataLake SDK and Spark's ABFS driver sign in with Entra ID,
// and Event Hubs Capture writes with a managed identity, so shared-key access stays off by default.

@description('Storage account name: 3-24 lowercase letters and digits, globally unique.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object

@description('Zone containers, in lake order (landing, bronze, silver, gold: infra/settings.py ZONES).')
param containerNames array

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param skuName string

@description('Shared-key (account key and SAS) access. The azure profile never uses a key: keep false.')
param allowSharedKeyAccess bool

@description('Days deleted blobs and containers can be restored.')
@minValue(1)
@maxValue(365)
param softDeleteDays int

@description('Public network access: Enabled for a first deployment; Disabled once private endpoints exist.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string

param logAnalyticsWorkspaceId string

@description('A CanNotDelete lock on the account (prod): deleting the lake takes removing the lock first.')
param deleteLock bool

@description('Principal id of the identity Event Hubs Capture writes with: it gets Storage Blob Data Contributor here, before the hub enables Capture.')
param capturePrincipalId string

// Storage Blob Data Contributor (built-in role id, the same in every tenant).
var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Network default action - Deny when publicNetworkAccess is Disabled; Allow otherwise, because ACI and Container Apps without a VNet have no fixed address to allow.
  // checkov:skip=CKV_AZURE_59: Public network access - a parameter, Enabled by default (no private endpoint in this template); set Disabled with private endpoints.
  // checkov:skip=CKV_AZURE_206: Replication - the SKU is a parameter (ZRS by default and in prod, LRS in dev).
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    isHnsEnabled: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: allowSharedKeyAccess
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: publicNetworkAccess
    accessTier: 'Hot'
    networkAcls: {
      defaultAction: (publicNetworkAccess == 'Enabled') ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containerNames: {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

resource lock 'Microsoft.Authorization/locks@2020-05-01' = if (deleteLock) {
  name: 'lake-cannot-delete'
  scope: account
  properties: {
    level: 'CanNotDelete'
    notes: 'The lakehouse data: remove this lock on purpose before deleting the account.'
  }
}

resource accountDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: account
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
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
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource captureWrites 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, capturePrincipalId, blobDataContributor)
  scope: account
  properties: {
    principalId: capturePrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
  }
}

output id string = account.id
output name string = account.name
output dfsEndpoint string = account.properties.primaryEndpoints.dfs
output containerNames array = [for (container, i) in containerNames: containers[i].name]
