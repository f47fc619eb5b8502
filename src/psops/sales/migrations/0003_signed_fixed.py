from django.db import migrations

from psops.core.triggers import Fixed, install, remove

# A signed SOW's milestones are held by save() and by the signature's hash (a page flags any difference): a
# trigger condition cannot look into another table on PostgreSQL.
RULES = [
    Fixed("sow_signed_fixed", "sales_sow", ("UPDATE",), "a signed SOW", "OLD.state = 'signed'"),
    Fixed("sowsignature_fixed", "sales_sowsignature", ("UPDATE",), "a signature"),
]


class Migration(migrations.Migration):
    dependencies = [("sales", "0002_chain_commitments")]

    operations = [
        migrations.RunPython(lambda apps, editor: install(editor, RULES), lambda apps, editor: remove(editor, RULES)),
    ]
