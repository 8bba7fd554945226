"""The figures the consumption API answers with: kWh and cost per local period
(`consumption`, with the one pricing rule), the local calendar (`periods`), and the meters
list and admins' overview (`fleet`)."""
