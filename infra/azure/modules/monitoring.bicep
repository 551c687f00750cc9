// Log Analytics workspace: every diagnostic setting of the environment sends its logs and metrics here.

@description('Workspace name (naming convention: log-<workload>-<env>).')
param name string

param location string
param tags object

@description('Days the workspace keeps data (30 is the free tier; prod keeps longer).')
@minValue(30)
@maxValue(730)
param retentionInDays int

@description('Daily ingestion cap in GB; -1 = no cap (a dev environment should have one).')
param dailyQuotaGb int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    workspaceCapping: {
      dailyQuotaGb: dailyQuotaGb
    }
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

output id string = workspace.id
output name string = workspace.name
output customerId string = workspace.properties.customerId
