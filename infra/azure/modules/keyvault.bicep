// Key Vault for the app_events API token (and the Prefect API key when Prefect Cloud is used).
// RBAC authorisation only (no access policies); secrets are set by an operator or by the deployment from
// a secure parameter, never from a file of this repository.

@description('Vault name: 3-24 characters, globally unique.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object
param tenantId string = subscription().tenantId

@description('Days a deleted vault or secret can be recovered (7-90).')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int

@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string

@description('Secret name of the app_events API token (read into LAKEHOUSE_API_TOKEN at run time).')
param apiTokenSecretName string

@secure()
@description('The app_events API token; empty = set it later with `az keyvault secret set`.')
param apiToken string = ''

@description('Expiry of a secret set by this deployment (utcNow is only allowed as a parameter default).')
param apiTokenExpiry string = dateTimeAdd(utcNow(), 'P1Y')

param logAnalyticsWorkspaceId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: Firewall - the vault is reached by Container Apps and ACI without fixed addresses; access is RBAC-only and audited.
  // checkov:skip=CKV_AZURE_189: Public network access - a parameter (Disabled once a private endpoint exists).
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    // On in every environment (it cannot be turned off again): a deleted vault keeps its name for the
    // retention period.
    enablePurgeProtection: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: (publicNetworkAccess == 'Enabled') ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
  }
}

resource apiTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(apiToken)) {
  // checkov:skip=CKV_AZURE_41: Expiry is set (attributes.exp below); checkov reads no property of a conditional resource.
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov reads no property of a conditional resource.
  parent: vault
  name: apiTokenSecretName
  properties: {
    value: apiToken
    contentType: 'text/plain'
    attributes: {
      enabled: true
      // One year by default: a rotation window; rotate with `az keyvault secret set`.
      exp: dateTimeToEpoch(apiTokenExpiry)
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
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

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
