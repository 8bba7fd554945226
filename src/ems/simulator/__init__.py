"""The simulator: plays smart meters that publish readings to `ems.data`."""
