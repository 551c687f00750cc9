// Role assignments, each on the narrowest scope that works. Built-in role definition ids are fixed GUIDs,
// the same in every tenant (Azure built-in roles reference); names are the keys, as the README lists them.

param storageAccountName string
param eventHubsNamespaceName string
param keyVaultName string
param registryName string

param runtimePrincipalId string
param workerPrincipalId string

@description('Name of the runtime identity (the worker may assign it to the container groups it starts).')
param runtimeIdentityName string

@description('Extra principals (object ids, e.g. the data team group) that get Storage Blob Data Reader.')
param readerPrincipalIds array = []

var builtInRoles = {
  'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  'Storage Blob Data Reader': '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  'Azure Event Hubs Data Sender': '2b629674-e913-4c01-ae53-ef4638d8f975'
  'Azure Event Hubs Data Receiver': 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6'
  AcrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  'Managed Identity Operator': 'f1a07417-d97a-45cb-824c-7a7467783830'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' existing = {
  name: eventHubsNamespaceName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource runtimeIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: runtimeIdentityName
}

// --- the flow runs -------------------------------------------------------------------------------------
resource runtimeBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, runtimePrincipalId, builtInRoles['Storage Blob Data Contributor'])
  scope: storage
  properties: {
    principalId: runtimePrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles['Storage Blob Data Contributor'])
  }
}

resource runtimeSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, runtimePrincipalId, builtInRoles['Azure Event Hubs Data Sender'])
  scope: namespace
  properties: {
    principalId: runtimePrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles['Azure Event Hubs Data Sender'])
  }
}

resource runtimeReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, runtimePrincipalId, builtInRoles['Azure Event Hubs Data Receiver'])
  scope: namespace
  properties: {
    principalId: runtimePrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles['Azure Event Hubs Data Receiver'])
  }
}

resource runtimeSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, runtimePrincipalId, builtInRoles['Key Vault Secrets User'])
  scope: vault
  properties: {
    principalId: runtimePrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles['Key Vault Secrets User'])
  }
}

resource runtimePull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, runtimePrincipalId, builtInRoles.AcrPull)
  scope: registry
  properties: {
    principalId: runtimePrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.AcrPull)
  }
}

// --- the Prefect worker ----------------------------------------------------------------------------------
// prefect-azure's ACI worker creates each flow run's container group through an ARM deployment in this
// resource group and deletes it afterwards: a custom role holds exactly those actions (not Contributor).
resource workerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'prefect-aci-worker')
  properties: {
    roleName: 'Prefect ACI worker (${resourceGroup().name})'
    description: 'Create, watch and delete the container groups of Prefect flow runs in one resource group.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: [
          'Microsoft.Resources/subscriptions/resourceGroups/read'
          'Microsoft.Resources/deployments/read'
          'Microsoft.Resources/deployments/write'
          'Microsoft.Resources/deployments/operationStatuses/read'
          'Microsoft.ContainerInstance/containerGroups/read'
          'Microsoft.ContainerInstance/containerGroups/write'
          'Microsoft.ContainerInstance/containerGroups/delete'
          'Microsoft.ContainerInstance/containerGroups/containers/logs/read'
        ]
        notActions: []
      }
    ]
  }
}

resource workerAci 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, workerPrincipalId, workerRole.id)
  properties: {
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: workerRole.id
  }
}

// The worker attaches the runtime identity to the container groups it creates: that is an "assign" action
// on that one identity, nothing more.
resource workerAssignsRuntime 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(runtimeIdentity.id, workerPrincipalId, builtInRoles['Managed Identity Operator'])
  scope: runtimeIdentity
  properties: {
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles['Managed Identity Operator'])
  }
}

resource workerSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, workerPrincipalId, builtInRoles['Key Vault Secrets User'])
  scope: vault
  properties: {
    principalId: workerPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles['Key Vault Secrets User'])
  }
}

resource readers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in readerPrincipalIds: {
    name: guid(storage.id, principalId, builtInRoles['Storage Blob Data Reader'])
    scope: storage
    properties: {
      principalId: principalId
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles['Storage Blob Data Reader'])
    }
  }
]
