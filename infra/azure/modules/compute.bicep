// Where the flows run. A Prefect worker (prefect-azure's `azure-container-instance` type) runs as a
// Container App with one replica; it polls the work pool and starts one Azure Container Instances group per
// flow run, with the project image and the runtime identity. Spark runs inside that container (local[*]):
// enough for the sizes of this project (SF1 = 2.6M rows in ~4 min on 2 cores); see databricks.bicep for
// scale.

param location string
param tags object

@description('Container Apps environment name (cae-<workload>-<env>).')
param environmentName string

@description('Worker app name (ca-<workload>-<env>-worker).')
param workerAppName string

param logAnalyticsWorkspaceName string

@description('Resource id and client id of the identity the worker runs as.')
param workerIdentityId string
param workerIdentityClientId string

@description('Prefect image of the worker (with prefect-azure installed at start-up).')
param workerImage string

@description('prefect-azure, pinned: the ACI worker type.')
param prefectAzurePackage string

@description('Work pool the worker polls (type azure-container-instance).')
param workPoolName string

@description('Prefect API the worker talks to (Prefect Cloud workspace URL or a self-hosted server).')
param prefectApiUrl string

@description('Read PREFECT_API_KEY from Key Vault (Prefect Cloud); false for a server without auth.')
param usePrefectApiKey bool

@description('Key Vault URI and the secret name of the Prefect API key.')
param keyVaultUri string
param prefectApiKeySecretName string

// The Container App's own name for the Key Vault reference (not the secret's value).
var keyReference = 'prefect-api-key'
var keySecret = [
  {
    name: keyReference
    keyVaultUrl: '${keyVaultUri}secrets/${prefectApiKeySecretName}'
    identity: workerIdentityId
  }
]
var keyEnv = [
  {
    name: 'PREFECT_API_KEY'
    secretRef: keyReference
  }
]

var workerEnv = [
  {
    name: 'PREFECT_API_URL'
    value: prefectApiUrl
  }
  {
    // The official Prefect image installs these at start-up.
    name: 'EXTRA_PIP_PACKAGES'
    value: prefectAzurePackage
  }
  {
    // DefaultAzureCredential picks the worker's user-assigned identity.
    name: 'AZURE_CLIENT_ID'
    value: workerIdentityClientId
  }
]

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsWorkspaceName
}

resource managedEnvironment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
    zoneRedundant: false
  }
}

resource worker 'Microsoft.App/containerApps@2024-03-01' = {
  name: workerAppName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${workerIdentityId}': {}
    }
  }
  properties: {
    environmentId: managedEnvironment.id
    configuration: {
      // No ingress: the worker only calls out (Prefect API, Azure Resource Manager).
      activeRevisionsMode: 'Single'
      secrets: usePrefectApiKey ? keySecret : []
    }
    template: {
      containers: [
        {
          name: 'prefect-worker'
          image: workerImage
          // args, not command: the image's entrypoint installs EXTRA_PIP_PACKAGES first.
          args: [
            'prefect'
            'worker'
            'start'
            '--pool'
            workPoolName
            '--type'
            'azure-container-instance'
          ]
          env: concat(workerEnv, usePrefectApiKey ? keyEnv : [])
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

output environmentId string = managedEnvironment.id
output workerAppName string = worker.name
