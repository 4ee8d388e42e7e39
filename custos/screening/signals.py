"""After a book load finishes, rebuild the context store from its snapshot (in the background)."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from custos.book.models import BookLoad


@receiver(post_save, sender=BookLoad, dispatch_uid="screening-index-after-load")
def index_after_load(sender, instance: BookLoad, **kwargs):
    if instance.status != BookLoad.Status.DONE or not instance.snapshot_path:
        return
    from custos.screening.tasks import index_book

    load_id = instance.pk
    transaction.on_commit(lambda: index_book(load_id))
