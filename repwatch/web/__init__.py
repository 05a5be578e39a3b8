"""The reputation team's dashboard and JSON API (`repwatch serve`).

Kept import-light on purpose: repwatch.config imports `repwatch.web.settings`, and FastAPI, uvicorn
and Jinja2 must only load in the process that serves pages. Build the app with
`repwatch.web.app.create_app`."""
