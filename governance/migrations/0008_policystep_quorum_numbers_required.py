"""A quorum step names both its numbers: the old check let a quorum step without them through
(its comparisons were NULL, and a NULL check passes), and such a step then needed a single
approval. A step saved that way makes this migration fail; find it with
`PolicyStep.objects.filter(mode="quorum").filter(Q(quorum=None) | Q(quorum_of=None))` and
give it its numbers (in a new version if its policy is active)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("governance", "0007_roles_membership_history"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="policystep",
            name="governance_policystep_quorum_iff_quorum_mode",
        ),
        migrations.AddConstraint(
            model_name="policystep",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("mode", "quorum"),
                        ("quorum__isnull", False),
                        ("quorum_of__isnull", False),
                        ("quorum__gte", 1),
                        ("quorum_of__gte", models.F("quorum")),
                    ),
                    models.Q(
                        models.Q(("mode", "quorum"), _negated=True),
                        ("quorum__isnull", True),
                        ("quorum_of__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="governance_policystep_quorum_iff_quorum_mode",
            ),
        ),
    ]
