"""A locustfile that imports a module next to it (catalogue.py) and reads a data file next
to it (catalogue.csv, found relative to __file__): one request per product per iteration."""

from catalogue import load_products
from locust import HttpUser, constant, task

PRODUCTS = load_products()


class CatalogueUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def visit_every_product(self):
        for product in PRODUCTS:
            self.client.get(f"/products/{product['sku']}", name=f"/products/{product['name']}")
