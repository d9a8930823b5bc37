import uuid

import django.db.models.deletion
from django.db import migrations, models

import django_shipping_orders.models
import django_shipping_orders.paperwork


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Manifest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("account", models.CharField(db_index=True, max_length=64, verbose_name="account")),
                (
                    "courier",
                    models.CharField(
                        blank=True, db_index=True, max_length=64, verbose_name="courier"
                    ),
                ),
                (
                    "courier_name",
                    models.CharField(blank=True, max_length=128, verbose_name="courier name"),
                ),
                (
                    "number",
                    models.CharField(
                        blank=True, db_index=True, max_length=128, verbose_name="manifest number"
                    ),
                ),
                ("success", models.BooleanField(default=False, verbose_name="booked")),
                ("error", models.CharField(blank=True, max_length=128, verbose_name="error code")),
                ("error_description", models.TextField(blank=True, verbose_name="error")),
                (
                    "order_count",
                    models.PositiveIntegerField(blank=True, null=True, verbose_name="order count"),
                ),
                ("references", models.JSONField(blank=True, default=list, verbose_name="orders")),
                (
                    "pdf_url",
                    models.URLField(blank=True, max_length=2000, verbose_name="provider's PDF URL"),
                ),
                (
                    "pdf",
                    models.FileField(
                        blank=True,
                        max_length=255,
                        storage=django_shipping_orders.paperwork._storage,
                        upload_to=django_shipping_orders.paperwork._manifest_upload_to,
                        verbose_name="manifest PDF",
                    ),
                ),
                ("pdf_error", models.TextField(blank=True, verbose_name="PDF download error")),
                (
                    "raw",
                    models.JSONField(blank=True, default=dict, verbose_name="provider's answer"),
                ),
                (
                    "booked_at",
                    models.DateTimeField(
                        auto_now_add=True, db_index=True, verbose_name="booked at"
                    ),
                ),
            ],
            options={
                "verbose_name": "pickup manifest",
                "verbose_name_plural": "pickup manifests",
                "ordering": ["-booked_at", "-pk"],
            },
        ),
        migrations.CreateModel(
            name="Order",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("account", models.CharField(db_index=True, max_length=64, verbose_name="account")),
                (
                    "reference",
                    models.CharField(
                        blank=True,
                        db_index=True,
                        max_length=64,
                        null=True,
                        verbose_name="reference",
                    ),
                ),
                (
                    "submission_id",
                    models.UUIDField(
                        default=uuid.uuid4,
                        editable=False,
                        unique=True,
                        verbose_name="submission id",
                    ),
                ),
                (
                    "placement",
                    models.CharField(
                        choices=[
                            ("remote", "Known from the provider"),
                            ("pending", "Being submitted"),
                            ("submitted", "Submitted"),
                            ("unknown", "Submission outcome unknown: check with the provider"),
                            ("rejected", "Rejected by the provider"),
                        ],
                        db_index=True,
                        default="remote",
                        max_length=16,
                        verbose_name="placement",
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        blank=True, db_index=True, max_length=64, verbose_name="state"
                    ),
                ),
                ("authority_to_leave", models.CharField(blank=True, max_length=32)),
                (
                    "cash_on_delivery_amount",
                    models.DecimalField(blank=True, decimal_places=4, max_digits=14, null=True),
                ),
                ("courier_type", models.CharField(blank=True, max_length=64)),
                ("courier_allocation", models.CharField(blank=True, db_index=True, max_length=128)),
                ("receiver_contact_number", models.CharField(blank=True, max_length=64)),
                ("receiver_name", models.CharField(blank=True, max_length=255)),
                ("receiver_language_code", models.CharField(blank=True, max_length=16)),
                ("retailer_invoice", models.CharField(blank=True, max_length=255)),
                ("retailer_reference", models.CharField(blank=True, db_index=True, max_length=255)),
                ("product_currency", models.CharField(blank=True, max_length=8)),
                ("suppress_communications", models.BooleanField(default=False)),
                ("tracking_only", models.BooleanField(default=False)),
                (
                    "features",
                    models.JSONField(
                        blank=True,
                        default=list,
                        encoder=django_shipping_orders.models.PayloadEncoder,
                    ),
                ),
                ("description", models.TextField(blank=True)),
                (
                    "duties",
                    models.DecimalField(blank=True, decimal_places=4, max_digits=14, null=True),
                ),
                (
                    "tax_amount",
                    models.DecimalField(blank=True, decimal_places=4, max_digits=14, null=True),
                ),
                (
                    "customs_clearance_attributes",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        encoder=django_shipping_orders.models.PayloadEncoder,
                    ),
                ),
                ("is_return", models.BooleanField(default=False, verbose_name="return")),
                ("pickup_at", models.DateTimeField(blank=True, db_index=True, null=True)),
                ("pickup_deadline_at", models.DateTimeField(blank=True, null=True)),
                ("dropoff_at", models.DateTimeField(blank=True, null=True)),
                ("dropoff_deadline_at", models.DateTimeField(blank=True, null=True)),
                ("delivery_company", models.CharField(blank=True, max_length=255)),
                ("delivery_address", models.CharField(blank=True, max_length=255)),
                ("delivery_suburb", models.CharField(blank=True, max_length=128)),
                ("delivery_state", models.CharField(blank=True, max_length=64)),
                ("delivery_postcode", models.CharField(blank=True, db_index=True, max_length=32)),
                ("delivery_country_code", models.CharField(blank=True, max_length=8)),
                ("delivery_timezone", models.CharField(blank=True, max_length=64)),
                ("delivery_instructions", models.TextField(blank=True)),
                ("user_email", models.CharField(blank=True, max_length=254)),
                ("user_first_name", models.CharField(blank=True, max_length=128)),
                ("user_last_name", models.CharField(blank=True, max_length=128)),
                ("user_mobile", models.CharField(blank=True, max_length=64)),
                (
                    "courier_job_id",
                    models.CharField(
                        blank=True,
                        db_index=True,
                        max_length=128,
                        verbose_name="courier tracking number",
                    ),
                ),
                ("courier_name", models.CharField(blank=True, max_length=128)),
                ("tracking_url", models.URLField(blank=True, max_length=500)),
                ("label_url", models.URLField(blank=True, max_length=2000)),
                ("retailer_order_number", models.CharField(blank=True, max_length=255)),
                ("expected_delivery_at", models.DateTimeField(blank=True, null=True)),
                (
                    "price",
                    models.DecimalField(
                        blank=True, decimal_places=4, max_digits=14, null=True, verbose_name="price"
                    ),
                ),
                (
                    "price_currency",
                    models.CharField(blank=True, max_length=8, verbose_name="price currency"),
                ),
                (
                    "courier",
                    models.CharField(
                        blank=True, db_index=True, max_length=64, verbose_name="courier"
                    ),
                ),
                (
                    "raw",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        encoder=django_shipping_orders.models.PayloadEncoder,
                        verbose_name="last full payload",
                    ),
                ),
                (
                    "state_as_of",
                    models.DateTimeField(
                        blank=True,
                        help_text="The instant the stored state was last known true: a poll's request time, a webhook's newest status time, a callback's arrival.",
                        null=True,
                        verbose_name="state known true at",
                    ),
                ),
                (
                    "data_as_of",
                    models.DateTimeField(
                        blank=True,
                        help_text="The same instant for the other mirrored fields, parcels and products.",
                        null=True,
                        verbose_name="details known true at",
                    ),
                ),
                ("state_changed_at", models.DateTimeField(blank=True, null=True)),
                ("last_synced_at", models.DateTimeField(blank=True, null=True)),
                (
                    "parcels_digest",
                    models.CharField(blank=True, editable=False, max_length=32),
                ),
                (
                    "products_digest",
                    models.CharField(blank=True, editable=False, max_length=32),
                ),
                ("next_refresh_at", models.DateTimeField(blank=True, db_index=True, null=True)),
                ("refresh_failures", models.PositiveIntegerField(default=0)),
                ("lease_expires_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
                ("data_warnings", models.TextField(blank=True, verbose_name="data warnings")),
                (
                    "label",
                    models.FileField(
                        blank=True,
                        max_length=255,
                        storage=django_shipping_orders.models._label_storage,
                        upload_to=django_shipping_orders.models._label_upload_to,
                    ),
                ),
                ("label_downloaded_at", models.DateTimeField(blank=True, null=True)),
                ("label_error", models.TextField(blank=True, verbose_name="label download error")),
                (
                    "label_printed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="label printed at"),
                ),
                (
                    "label_printed_by",
                    models.CharField(blank=True, max_length=150, verbose_name="label printed by"),
                ),
                ("booked_at", models.DateTimeField(blank=True, null=True)),
                ("booking_error", models.TextField(blank=True, verbose_name="booking error")),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "manifest",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="orders",
                        to="shipping_orders.manifest",
                        verbose_name="manifest",
                    ),
                ),
            ],
            options={
                "verbose_name": "shipping order",
                "verbose_name_plural": "shipping orders",
                "ordering": ["-created_at", "-pk"],
                "permissions": [
                    ("refresh_order", "Can refresh shipping orders from the provider"),
                    ("cancel_order", "Can cancel shipping orders at the provider"),
                    ("book_order", "Can book shipping orders for pickup"),
                    ("print_label", "Can print shipping labels"),
                ],
            },
        ),
        migrations.CreateModel(
            name="LabelDocument",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("kind", models.CharField(max_length=64, verbose_name="kind")),
                (
                    "page_size",
                    models.CharField(blank=True, max_length=16, verbose_name="page size"),
                ),
                (
                    "file_type",
                    models.CharField(blank=True, max_length=16, verbose_name="file type"),
                ),
                (
                    "url",
                    models.URLField(blank=True, max_length=2000, verbose_name="provider's URL"),
                ),
                (
                    "file",
                    models.FileField(
                        blank=True,
                        max_length=255,
                        storage=django_shipping_orders.paperwork._storage,
                        upload_to=django_shipping_orders.paperwork._document_upload_to,
                        verbose_name="file",
                    ),
                ),
                ("sha256", models.CharField(blank=True, max_length=64)),
                ("downloaded_at", models.DateTimeField(blank=True, null=True)),
                ("error", models.TextField(blank=True, verbose_name="download error")),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="documents",
                        to="shipping_orders.order",
                    ),
                ),
            ],
            options={
                "verbose_name": "label document",
                "verbose_name_plural": "label documents",
                "ordering": ["order", "kind"],
            },
        ),
        migrations.CreateModel(
            name="CallbackReceipt",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("account", models.CharField(db_index=True, max_length=64)),
                ("received_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("body", models.BinaryField()),
                ("content_type", models.CharField(blank=True, max_length=255)),
                ("remote_addr", models.GenericIPAddressField(blank=True, null=True)),
                ("headers", models.JSONField(blank=True, default=dict)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("received", "Received, not processed yet"),
                            ("processed", "Processed"),
                            ("ignored", "Ignored (duplicate, stale or not an order)"),
                            ("failed", "Failed: can be reprocessed"),
                            ("unprocessable", "Unprocessable: the body can never be applied"),
                            ("rejected", "Rejected: not authenticated"),
                        ],
                        db_index=True,
                        default="received",
                        max_length=16,
                    ),
                ),
                ("dedupe_key", models.CharField(blank=True, db_index=True, max_length=64)),
                ("reference", models.CharField(blank=True, db_index=True, max_length=64)),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("processed_at", models.DateTimeField(blank=True, null=True)),
                ("error", models.TextField(blank=True)),
                ("traceback", models.TextField(blank=True)),
                ("truncated", models.BooleanField(default=False)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                (
                    "order",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="callback_receipts",
                        to="shipping_orders.order",
                    ),
                ),
            ],
            options={
                "ordering": ["-received_at", "-pk"],
            },
        ),
        migrations.CreateModel(
            name="OrderEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("from_state", models.CharField(blank=True, max_length=64)),
                ("to_state", models.CharField(max_length=64)),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("callback", "Callback"),
                            ("refresh", "Refresh"),
                            ("place", "Placed"),
                            ("cancel", "Cancelled"),
                            ("admin", "Admin"),
                            ("command", "Command"),
                            ("label", "Label answer"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "occurred_at",
                    models.DateTimeField(
                        help_text="The provider's time of the change when it gave one, else when we saw it."
                    ),
                ),
                ("recorded_at", models.DateTimeField(auto_now_add=True)),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="shipping_orders.order",
                    ),
                ),
                (
                    "receipt",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="events",
                        to="shipping_orders.callbackreceipt",
                    ),
                ),
            ],
            options={
                "ordering": ["order", "-occurred_at", "-pk"],
            },
        ),
        migrations.CreateModel(
            name="Parcel",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveIntegerField()),
                ("qty", models.IntegerField(blank=True, null=True)),
                (
                    "length",
                    models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True),
                ),
                (
                    "width",
                    models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True),
                ),
                (
                    "depth",
                    models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True),
                ),
                (
                    "weight",
                    models.DecimalField(blank=True, decimal_places=4, max_digits=12, null=True),
                ),
                ("label_number", models.CharField(blank=True, db_index=True, max_length=128)),
                (
                    "raw",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        encoder=django_shipping_orders.models.PayloadEncoder,
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="parcels",
                        to="shipping_orders.order",
                    ),
                ),
            ],
            options={
                "ordering": ["order", "position"],
            },
        ),
        migrations.CreateModel(
            name="Product",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveIntegerField()),
                (
                    "price",
                    models.DecimalField(blank=True, decimal_places=4, max_digits=14, null=True),
                ),
                ("tariff_code", models.CharField(blank=True, max_length=32)),
                ("quantity", models.IntegerField(blank=True, null=True)),
                ("title", models.CharField(blank=True, max_length=255)),
                ("sku", models.CharField(blank=True, max_length=128)),
                ("dangerous_goods_code", models.CharField(blank=True, max_length=32)),
                ("dangerous_goods_text", models.CharField(blank=True, max_length=255)),
                ("origin_country_code", models.CharField(blank=True, max_length=8)),
                ("product_line_id", models.CharField(blank=True, max_length=128)),
                ("location", models.CharField(blank=True, max_length=128)),
                ("dangerous_goods_class", models.CharField(blank=True, max_length=32)),
                ("packed", models.IntegerField(blank=True, null=True)),
                (
                    "quantity_shipped",
                    models.IntegerField(blank=True, null=True, verbose_name="quantity shipped"),
                ),
                (
                    "raw",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        encoder=django_shipping_orders.models.PayloadEncoder,
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="products",
                        to="shipping_orders.order",
                    ),
                ),
            ],
            options={
                "ordering": ["order", "position"],
            },
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["account", "state"], name="shipping_order_account_state"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                fields=["account", "next_refresh_at"], name="shipping_order_account_due"
            ),
        ),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.UniqueConstraint(
                fields=("account", "reference"), name="shipping_order_unique_reference"
            ),
        ),
        migrations.AddConstraint(
            model_name="labeldocument",
            constraint=models.UniqueConstraint(
                fields=("order", "kind"), name="shipping_document_unique_kind"
            ),
        ),
        migrations.AddIndex(
            model_name="callbackreceipt",
            index=models.Index(
                fields=["account", "dedupe_key", "status"], name="shipping_receipt_duplicates"
            ),
        ),
        migrations.AddIndex(
            model_name="orderevent",
            index=models.Index(fields=["order", "occurred_at"], name="shipping_event_order_time"),
        ),
        migrations.AddConstraint(
            model_name="parcel",
            constraint=models.UniqueConstraint(
                fields=("order", "position"), name="shipping_parcel_unique_position"
            ),
        ),
        migrations.AddConstraint(
            model_name="product",
            constraint=models.UniqueConstraint(
                fields=("order", "position"), name="shipping_product_unique_position"
            ),
        ),
    ]
