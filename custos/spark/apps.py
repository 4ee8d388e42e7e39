from django.apps import AppConfig


class SparkConfig(AppConfig):
    name = "custos.spark"
    label = "custos_spark"  # "spark" would shadow nothing today, but pyspark's name is too close
    verbose_name = "Spark cluster"
