"""Onboarding progress and KPI reports: SQL aggregates (`queries`), the KPIs built from them
(`kpis`), timezone-aligned periods (`periods`), questions grouped by meaning (`clusters`)."""
