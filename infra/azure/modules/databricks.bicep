// Optional (deployDatabricks): Azure Databricks for the medallion at scale. The transforms are plain
// PySpark and notebooks/ holds Databricks-format notebooks over them, so a job cluster runs the same code.
// An Access Connector gives Unity Catalog a managed identity on the lake (no key, no service principal).

param workspaceName string
param accessConnectorName string
param location string
param tags object

@description('Managed resource group Databricks creates for its own resources.')
param managedResourceGroupName string

param storageAccountName string
param logAnalyticsWorkspaceId string

// Storage Blob Data Contributor (built-in role id).
var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource connector 'Microsoft.Databricks/accessConnectors@2023-05-01' = {
  name: accessConnectorName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {}
}

resource workspace 'Microsoft.Databricks/workspaces@2024-05-01' = {
  // checkov:skip=CKV2_AZURE_48: Customer-managed key for DBFS root - Microsoft-managed keys until the platform team provides a key; the lake itself is outside DBFS.
  // checkov:skip=CKV_AZURE_158: Public network access - VNet injection and private link are the landing zone's; no-public-IP is on.
  name: workspaceName
  location: location
  tags: tags
  sku: {
    // Premium: Unity Catalog and role-based access control.
    name: 'premium'
  }
  properties: {
    managedResourceGroupId: subscriptionResourceId('Microsoft.Resources/resourceGroups', managedResourceGroupName)
    parameters: {
      enableNoPublicIp: {
        value: true
      }
    }
  }
}

resource connectorWrites 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, connector.id, blobDataContributor)
  scope: storage
  properties: {
    principalId: connector.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: workspace
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

output workspaceUrl string = 'https://${workspace.properties.workspaceUrl}'
output accessConnectorId string = connector.id
