from django.db import migrations

from psops.core.triggers import Fixed, install, remove

RULES = [Fixed("romversion_fixed", "estimating_romversion", ("UPDATE",), "a ROM version")]


class Migration(migrations.Migration):
    dependencies = [("estimating", "0003_rom_one_rom_per_ps_opportunity")]

    operations = [
        migrations.RunPython(lambda apps, editor: install(editor, RULES), lambda apps, editor: remove(editor, RULES)),
    ]
