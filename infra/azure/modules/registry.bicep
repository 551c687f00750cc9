// Container registry for the project image (infra/docker/Dockerfile): the flow runs' containers pull it
// with the runtime identity (AcrPull); no admin user, no password.

@description('Registry name: 5-50 letters and digits, globally unique.')
@minLength(5)
@maxLength(50)
param name string

param location string
param tags object

@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param skuName string

param logAnalyticsWorkspaceId string

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  // checkov:skip=CKV_AZURE_166: Quarantine - Premium only; images are built by this repository's own workflow.
  // checkov:skip=CKV_AZURE_233: Zone redundancy - Premium only.
  // checkov:skip=CKV_AZURE_163: Image vulnerability scanning - Microsoft Defender for Containers is a subscription plan, enabled by the platform team.
  // checkov:skip=CKV_AZURE_139: Public network access - ACI pulls without a private network here.
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    adminUserEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: registry
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

output id string = registry.id
output name string = registry.name
output loginServer string = registry.properties.loginServer
