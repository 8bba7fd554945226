// The platform's API docs: Swagger UI over every service's OpenAPI document, as listed by
// the gateway (/api/docs/services.json). At /api/<service>/docs that service is shown first.
// No inline script: the page runs under a Content-Security-Policy without 'unsafe-inline'.
(function () {
  'use strict'

  function start(services) {
    var match = window.location.pathname.match(/^(\/api\/[^/]+)\/docs\/?$/)
    var primary = services[0]
    if (match) {
      for (var i = 0; i < services.length; i++) {
        if (services[i].url === match[1] + '/openapi.json') primary = services[i]
      }
    }
    window.ui = SwaggerUIBundle({
      urls: services,
      'urls.primaryName': primary ? primary.name : undefined,
      dom_id: '#swagger-ui',
      deepLinking: true,
      validatorUrl: null,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      plugins: [SwaggerUIBundle.plugins.DownloadUrl],
      layout: 'StandaloneLayout',
    })
  }

  fetch('/api/docs/services.json', { credentials: 'same-origin' })
    .then(function (response) {
      if (!response.ok) throw new Error('services.json: ' + response.status)
      return response.json()
    })
    .then(start)
    .catch(function (error) {
      document.getElementById('swagger-ui').textContent = 'The API list could not be loaded: ' + error
    })
})()
