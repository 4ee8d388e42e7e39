from ninja import NinjaAPI

api = NinjaAPI(title="custos", version="1", urls_namespace="api")
