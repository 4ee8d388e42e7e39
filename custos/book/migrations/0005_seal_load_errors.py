"""Load errors and warnings quote values of the book: sealed like the book's personal columns."""

from django.db import migrations

import custos.crypto.fields


def seal_existing(apps, schema_editor):
    from custos.crypto.rotate import seal_clear_rows

    seal_clear_rows(schema_editor.connection, "book_bookload", ["errors", "warnings"], deterministic=False)


class Migration(migrations.Migration):
    dependencies = [
        ("book", "0004_encrypt_pii"),
    ]

    operations = [
        migrations.AlterField(
            model_name="bookload",
            name="errors",
            field=custos.crypto.fields.EncryptedJSONField(blank=True, default=list, null=True),
        ),
        migrations.AlterField(
            model_name="bookload",
            name="warnings",
            field=custos.crypto.fields.EncryptedJSONField(blank=True, default=list, null=True),
        ),
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
    ]
